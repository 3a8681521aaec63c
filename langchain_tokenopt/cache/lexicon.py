"""English lexicon for the hit verifier: lemmas, synonyms, antonyms, derived forms.

The source is Princeton WordNet 3.0. The package ships its extract as gzip-compressed JSON
(never pickle) in ``langchain_tokenopt/_data/wordnet-3.0/`` with WordNet's licence, built by
``scripts/build_lexicon.py`` from Debian's ``wordnet-base``; it loads in about half a second.
``$WNSEARCHDIR`` (WordNet's own variable) or ``$WNHOME/dict`` point at a WordNet of your own
instead: its files are read once and the extract kept under
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
_FORMAT = 5
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
    hypernyms: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Verb synset → its direct hypernyms (``generate`` → ``produce``)."""

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

    # Per-word sets below are cached for the lexicon's life (one per process): the verifier
    # asks about the same words over and over, and a long text pairs each with many.
    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _synset_ids(self, word: str) -> frozenset[int]:
        ids: set[int] = set()
        for lemma in self.lemmas(word):
            ids.update(self.synsets.get(lemma, ()))
        return frozenset(ids)

    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _sense_ids(self, word: str) -> frozenset[int]:
        ids = self._synset_ids(word)
        return ids | {self.heads[i] for i in ids if i in self.heads}

    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _derived_of(self, word: str) -> frozenset[str]:
        return frozenset().union(*(self.derived.get(x, frozenset()) for x in self.lemmas(word)))

    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _derived_senses(self, word: str) -> frozenset[int]:
        return frozenset().union(*(self._sense_ids(x) for x in self._derived_of(word)))

    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _up(self, word: str) -> frozenset[int]:
        """Hypernyms one and two steps above the senses of ``word``."""
        one = {h for i in self._synset_ids(word) for h in self.hypernyms.get(i, ())}
        return frozenset(one | {h for i in one for h in self.hypernyms.get(i, ())})

    @functools.lru_cache(maxsize=16384)  # noqa: B019
    def _antonym_ids(self, word: str) -> frozenset[int]:
        pairs = self._antonym_index()
        return frozenset().union(*(pairs.get(i, frozenset()) for i in self._synset_ids(word)))

    @functools.lru_cache(maxsize=1)  # noqa: B019
    def _antonym_index(self) -> dict[int, frozenset[int]]:
        index: dict[int, set[int]] = {}
        for x, y in self.antonym_pairs:
            index.setdefault(x, set()).add(y)
        return {k: frozenset(v) for k, v in index.items()}

    def synonyms(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` share a synset or an adjective cluster (via base forms)."""
        return not self._sense_ids(a).isdisjoint(self._sense_ids(b))

    def same_synset(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` share a synset (via base forms; no adjective clusters)."""
        return not self._synset_ids(a).isdisjoint(self._synset_ids(b))

    def broader(self, a: str, b: str) -> bool:
        """Whether a sense of one verb is a hypernym (one or two steps up) of the other's.

        ``generate`` / ``produce``, ``generate`` / ``create``: the same request, one word
        more general. Two words under one hypernym (``buy`` / ``sell``) are not, and nouns
        are left out (``vegan`` is a kind of ``vegetarian``, yet another question).
        """
        return not (
            self._up(a).isdisjoint(self._synset_ids(b))
            and self._up(b).isdisjoint(self._synset_ids(a))
        )

    def antonyms(self, a: str, b: str) -> bool:
        """Whether some sense of ``a`` is an antonym of some sense of ``b``."""
        return not self._antonym_ids(a).isdisjoint(self._synset_ids(b))

    def siblings(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are two satellites of one adjective cluster, no more.

        ``daily`` / ``monthly`` (both under ``periodic``): similar, yet alternatives to each
        other. A satellite and its head (``quick`` / ``fast``) or two words sharing a synset
        are not siblings.
        """
        ia, ib = self._synset_ids(a), self._synset_ids(b)
        if not ia or not ib or not ia.isdisjoint(ib):
            return False
        ha = {self.heads[i] for i in ia if i in self.heads}
        hb = {self.heads[i] for i in ib if i in self.heads}
        return not ha.isdisjoint(hb) and ia.isdisjoint(hb) and ib.isdisjoint(ha)

    def is_modifier(self, word: str) -> bool:
        """Whether ``word`` can modify a noun: a noun or adjective sense, or unknown."""
        ids = self._synset_ids(word)
        return not ids or any(i % 4 in (_POS["n"], _POS["a"]) for i in ids)

    def is_gradable(self, word: str) -> bool:
        """Whether ``word`` itself (not a base form) has an adjective or adverb sense."""
        return any(i % 4 in (_POS["a"], _POS["r"]) for i in self.synsets.get(word, ()))

    def noun_senses(self, word: str) -> int:
        """How many noun senses ``word`` itself (not a base form) has (``number``: many)."""
        return sum(i % 4 == _POS["n"] for i in self.synsets.get(word, ()))

    def is_noun(self, word: str) -> bool:
        """Whether ``word`` (or a base form) has a noun sense in WordNet (``laptops``)."""
        return any(i % 4 == _POS["n"] for i in self._synset_ids(word))

    def related(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` are derived forms of each other (``quick``/``quickly``)."""
        la, lb = self.lemmas(a), self.lemmas(b)
        if not la.isdisjoint(lb):
            return True
        if not self._derived_of(a).isdisjoint(lb) or not self._derived_of(b).isdisjoint(la):
            return True
        # a derived form's synonym: "quickly" -> "quick", which shares a cluster with "fast"
        return not (
            self._derived_senses(a).isdisjoint(self._sense_ids(b))
            and self._derived_senses(b).isdisjoint(self._sense_ids(a))
        )


def _parse(folder: Path) -> Lexicon:
    synsets: dict[str, list[int]] = {}
    antonyms: set[tuple[int, int]] = set()
    satellites: dict[int, set[int]] = {}
    derived: dict[str, set[str]] = {}
    lexical: list[tuple[int, int, int, int, str]] = []
    words_of: dict[int, list[str]] = {}
    heads: dict[int, int] = {}
    hypernyms: dict[int, list[int]] = {}
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
                    elif sym in ("@", "@i") and pos == "v":
                        hypernyms.setdefault(sid, []).append(target)
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
        hypernyms={k: tuple(v) for k, v in hypernyms.items()},
    )


def _signature(folder: Path) -> str:
    stats = [(folder / f"data.{name}").stat() for name in _FILES]
    return f"{_FORMAT}|{folder}|" + "|".join(f"{s.st_size}:{int(s.st_mtime)}" for s in stats)


#: The WordNet 3.0 extract shipped with the package (``scripts/build_lexicon.py`` writes it
#: from Debian's ``wordnet-base``), with WordNet's licence beside it.
SHIPPED_LEXICON = Path(__file__).resolve().parents[1] / "_data" / "wordnet-3.0" / "lexicon.json.gz"
_SHIPPED_SIGNATURE = f"{_FORMAT}|wordnet-3.0"


def build_shipped_lexicon(target: Path = SHIPPED_LEXICON) -> Path:
    """Parse the installed WordNet and write the extract the package ships (reproducibly).

    Raises:
        FileNotFoundError: WordNet is not installed (``apt-get install wordnet-base``).
    """
    folder = wordnet_dir()
    if folder is None:
        msg = "WordNet not found: apt-get install wordnet-base (or set WNSEARCHDIR)"
        raise FileNotFoundError(msg)
    data = _to_json(_parse(folder), _SHIPPED_SIGNATURE)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return target


def _shipped_lexicon() -> Lexicon | None:
    """The shipped extract, unless the user points at a WordNet of their own."""
    if os.environ.get("WNSEARCHDIR") or os.environ.get("WNHOME"):
        return None
    try:
        return _from_json(gzip.decompress(SHIPPED_LEXICON.read_bytes()), _SHIPPED_SIGNATURE)
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError):
        return None


@functools.lru_cache(maxsize=1)
def load_lexicon() -> Lexicon | None:
    """Return the WordNet lexicon, or ``None`` (logged once) when no WordNet is available.

    The extract shipped with the package is read first (a fraction of a second); with
    ``$WNSEARCHDIR`` / ``$WNHOME`` set, or without the shipped file, the installed WordNet is
    parsed once and its extract cached on disk, keyed by the source files' sizes and times.
    """
    shipped = _shipped_lexicon()
    if shipped is not None:
        return shipped
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
        "hypernyms": {str(k): list(v) for k, v in lexicon.hypernyms.items()},
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
        hypernyms={int(k): tuple(v) for k, v in doc["hypernyms"].items()},
    )
