"""English lexicon for the hit verifier: lemmas, synonyms, antonyms, derived forms.

The source is Princeton WordNet 3.0 as Debian ships it (``apt-get install wordnet-base``,
``make install-lexicon``): plain data files under ``/usr/share/wordnet``. ``$WNSEARCHDIR``
(WordNet's own variable) or ``$WNHOME/dict`` point elsewhere. The files are read once and
the extract is kept as gzip-compressed JSON (never pickle) under
:func:`~langchain_tokenopt._assets.user_cache_dir`.

Without WordNet the verifier still runs, only stricter: :func:`load_lexicon` returns
``None``, two different words are never taken for synonyms, so a candidate that differs by
a content word is turned down.

Relations kept:

* **synonyms**: two words sharing a synset;
* **antonyms**: WordNet's antonym pointers, lifted to the synsets and spread over adjective
  clusters (``safe`` / ``dangerous, unsafe``; ``hard`` / ``soft``; ``open`` / ``closed``);
* **derived forms**: derivation and pertainym pointers (``quick`` / ``quickly``,
  ``safe`` / ``safety``);
* **inflection**: WordNet's morphy rules and exception lists (``children`` → ``child``).

Example:
    .. code-block:: python

        lex = load_lexicon()
        if lex is not None:
            lex.antonyms("safe", "unsafe")  # True
            lex.synonyms("begin", "start")  # True
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Lexicon", "load_lexicon", "wordnet_dir"]

logger = logging.getLogger(__name__)

_POS = {"n": 0, "v": 1, "a": 2, "s": 2, "r": 3}
_FILES = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
_FORMAT = 3
# WordNet's morphy detachment rules (suffix, replacement), all parts of speech together.
_RULES = (
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
    ("es", "e"),
    ("es", ""),
    ("ed", "e"),
    ("ed", ""),
    ("ing", "e"),
    ("ing", ""),
    ("er", ""),
    ("est", ""),
    ("er", "e"),
    ("est", "e"),
)
_MARKER = re.compile(r"\([a-z]+\)$")


def wordnet_dir() -> Path | None:
    """Return the folder holding WordNet's ``data.noun`` etc., or ``None`` when absent."""
    candidates = []
    if os.environ.get("WNSEARCHDIR"):
        candidates.append(Path(os.environ["WNSEARCHDIR"]))
    if os.environ.get("WNHOME"):
        candidates.append(Path(os.environ["WNHOME"]) / "dict")
    candidates += [Path("/usr/share/wordnet"), Path("/usr/local/share/wordnet")]
    for folder in candidates:
        if all((folder / f"data.{name}").is_file() for name in _FILES):
            return folder
    return None


@dataclass(eq=False)
class Lexicon:
    """Word relations read from WordNet (see the module docstring)."""

    synsets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """Lowercase word (multiword with ``_``) → ids of the synsets it belongs to."""
    antonym_pairs: set[tuple[int, int]] = field(default_factory=set)
    """Pairs of synset ids whose members are antonyms (both orders present)."""
    derived: dict[str, frozenset[str]] = field(default_factory=dict)
    """Word → words derived from it or it from them (derivation, pertainym)."""
    exceptions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Irregular inflected form → base forms (``went`` → ``go``)."""
    heads: dict[int, int] = field(default_factory=dict)
    """Adjective satellite synset → its cluster's head (``quick`` → ``fast``)."""

    def known(self, word: str) -> bool:
        """Whether ``word`` (or one of its base forms) is an English word in WordNet."""
        return bool(self.lemmas(word) & self.synsets.keys())

    @functools.lru_cache(maxsize=8192)  # noqa: B019 - one lexicon per process, kept for life
    def lemmas(self, word: str) -> frozenset[str]:
        """Return ``word`` and its base forms (WordNet's morphy over all parts of speech)."""
        word = word.lower()
        found = {word}
        found.update(self.exceptions.get(word, ()))
        for suffix, repl in _RULES:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                base = word[: len(word) - len(suffix)] + repl
                if base in self.synsets:
                    found.add(base)
        return frozenset(found)

    def _synset_ids(self, word: str) -> set[int]:
        ids: set[int] = set()
        for lemma in self.lemmas(word):
            ids.update(self.synsets.get(lemma, ()))
        return ids

    def _sense_ids(self, word: str) -> set[int]:
        ids = self._synset_ids(word)
        return ids | {self.heads[i] for i in ids if i in self.heads}

    def synonyms(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` share a synset or an adjective cluster (via base forms)."""
        return bool(self._sense_ids(a) & self._sense_ids(b))

    def antonyms(self, a: str, b: str) -> bool:
        """Whether some sense of ``a`` is an antonym of some sense of ``b``."""
        sa, sb = self._synset_ids(a), self._synset_ids(b)
        return any((x, y) in self.antonym_pairs for x in sa for y in sb)

    def related(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are derived forms of each other (``quick``/``quickly``)."""
        la, lb = self.lemmas(a), self.lemmas(b)
        if la & lb:
            return True
        da = set().union(*(self.derived.get(x, frozenset()) for x in la))
        db = set().union(*(self.derived.get(x, frozenset()) for x in lb))
        if da & lb or db & la:
            return True
        # a derived form's synonym: "quickly" -> "quick", which shares a cluster with "fast"
        sa = set().union(*(self._sense_ids(x) for x in da)) if da else set()
        sb = set().union(*(self._sense_ids(x) for x in db)) if db else set()
        return bool(sa & self._sense_ids(b) or sb & self._sense_ids(a))


def _parse(folder: Path) -> Lexicon:
    synsets: dict[str, list[int]] = {}
    antonyms: set[tuple[int, int]] = set()
    satellites: dict[int, set[int]] = {}
    derived: dict[str, set[str]] = {}
    lexical: list[tuple[int, int, int, int, str]] = []
    words_of: dict[int, list[str]] = {}
    heads: dict[int, int] = {}
    for name, pos in _FILES.items():
        with open(folder / f"data.{name}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" "):
                    continue
                parts = line.split(" | ", 1)[0].split()
                sid = int(parts[0]) * 4 + _POS[pos]
                count = int(parts[3], 16)
                words = [_MARKER.sub("", w).lower() for w in parts[4 : 4 + 2 * count : 2]]
                words_of[sid] = words
                for word in words:
                    synsets.setdefault(word, []).append(sid)
                at = 4 + 2 * count
                n_ptr = int(parts[at])
                for k in range(n_ptr):
                    sym, off, tpos, st = parts[at + 1 + 4 * k : at + 5 + 4 * k]
                    target = int(off) * 4 + _POS[tpos]
                    if sym == "!":
                        antonyms.add((sid, target))
                        antonyms.add((target, sid))
                    elif sym == "&":
                        satellites.setdefault(sid, set()).add(target)
                        if parts[2] == "s":
                            heads[sid] = target
                    elif sym in ("+", "\\", "<", "="):
                        lexical.append((sid, int(st[:2], 16), target, int(st[2:], 16), sym))
    for sid, src, target, dst, _sym in lexical:
        a_words, b_words = words_of.get(sid, []), words_of.get(target, [])
        pairs = (
            [(a_words[src - 1], b_words[dst - 1])]
            if src and dst and src <= len(a_words) and dst <= len(b_words)
            else [(a, b) for a in a_words for b in b_words]
        )
        for a, b in pairs:
            derived.setdefault(a, set()).add(b)
            derived.setdefault(b, set()).add(a)
    # indirect antonyms: an adjective cluster's satellites share their head's antonyms
    spread: set[tuple[int, int]] = set()
    for x, y in antonyms:
        for xs in {x} | satellites.get(x, set()):
            for ys in {y} | satellites.get(y, set()):
                spread.add((xs, ys))
                spread.add((ys, xs))
    exceptions: dict[str, list[str]] = {}
    for name in _FILES:
        exc = folder / f"{name}.exc"
        if exc.is_file():
            for line in exc.read_text(encoding="utf-8", errors="replace").splitlines():
                form, *bases = line.split()
                exceptions.setdefault(form, []).extend(bases)
    return Lexicon(
        synsets={w: tuple(ids) for w, ids in synsets.items()},
        antonym_pairs=spread,
        derived={w: frozenset(v) for w, v in derived.items()},
        exceptions={w: tuple(v) for w, v in exceptions.items()},
        heads=heads,
    )


def _signature(folder: Path) -> str:
    stats = [(folder / f"data.{name}").stat() for name in _FILES]
    return f"{_FORMAT}|{folder}|" + "|".join(f"{s.st_size}:{int(s.st_mtime)}" for s in stats)


@functools.lru_cache(maxsize=1)
def load_lexicon() -> Lexicon | None:
    """Return the WordNet lexicon, or ``None`` (logged once) when WordNet is not installed.

    The parsed extract is cached on disk, keyed by the source files' sizes and times.
    """
    folder = wordnet_dir()
    if folder is None:
        logger.info(
            "WordNet not found (apt-get install wordnet-base, or set WNSEARCHDIR): the cache "
            "verifier treats every changed content word as unexplained"
        )
        return None
    from langchain_tokenopt._assets import atomic_write_bytes, user_cache_dir

    signature = _signature(folder)
    target = user_cache_dir() / "wordnet-lexicon.json.gz"
    try:
        lexicon = _from_json(gzip.decompress(target.read_bytes()), signature)
        if lexicon is not None:
            return lexicon
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError):
        pass  # absent, truncated or from another version: parse again
    try:
        lexicon = _parse(folder)
    except (OSError, ValueError, IndexError) as exc:
        logger.warning("could not read WordNet from %s (%s): verifier runs without it", folder, exc)
        return None
    try:
        atomic_write_bytes(target, gzip.compress(_to_json(lexicon, signature), compresslevel=1))
    except OSError as exc:  # a read-only cache dir only costs the parse next time
        logger.debug("could not cache the WordNet extract: %s", exc)
    return lexicon


def _to_json(lexicon: Lexicon, signature: str) -> bytes:
    """Serialize ``lexicon`` as plain JSON (never pickle: the cache dir may be shared)."""
    pairs = sorted(lexicon.antonym_pairs)
    doc = {
        "signature": signature,
        "synsets": {w: list(ids) for w, ids in lexicon.synsets.items()},
        "antonym_pairs": [x for pair in pairs for x in pair],
        "derived": {w: sorted(v) for w, v in lexicon.derived.items()},
        "exceptions": {w: list(v) for w, v in lexicon.exceptions.items()},
        "heads": [x for item in lexicon.heads.items() for x in item],
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def _from_json(data: bytes, signature: str) -> Lexicon | None:
    """Rebuild a :class:`Lexicon` from :func:`_to_json`'s output; ``None`` if stale."""
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("signature") != signature:
        return None
    flat_pairs = doc["antonym_pairs"]
    flat_heads = doc["heads"]
    return Lexicon(
        synsets={w: tuple(ids) for w, ids in doc["synsets"].items()},
        antonym_pairs=set(zip(flat_pairs[::2], flat_pairs[1::2], strict=True)),
        derived={w: frozenset(v) for w, v in doc["derived"].items()},
        exceptions={w: tuple(v) for w, v in doc["exceptions"].items()},
        heads=dict(zip(flat_heads[::2], flat_heads[1::2], strict=True)),
    )
