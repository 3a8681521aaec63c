"""Near-miss verification: serve a neighbour only when every difference is explained.

Sentence embeddings put "Is it unsafe to take ibuprofen with alcohol?" next to "... safe
...", "euros to dollars" next to "dollars to euros", "7 pm" next to "7 am". The
:class:`NearMissVerifier` does not look for words from a list; it aligns the query with the
candidate (:mod:`.align` reads both into typed slots) and accepts only when every difference
is explained:

1. **negation**: one side negated (``not``, ``never``, ``n't``, ``without``) and not the
   other → ``negation``;
2. **typed slots** must match as multisets: quoted strings (``quote``), code identifiers
   and paths (``code``), times with am/pm (``time``), dates, month and weekday names
   (``date``), numbers with their units (``number``; same numbers in other units:
   ``unit``); capitalized names and acronyms must occur on the other side (``entity``);
   why/when/where/who must agree (``question``);
3. **directional prepositions**: ``to``/``from``, ``on``/``off``, ``before``/``after``
   ... left over on opposite sides → ``antonym``;
4. **content words** that do not occur (as a lemma) on the other side must each be
   explained by a word of the other side: an antonym (WordNet, or a negation prefix
   ``un-``/``in-``/``dis-``/``non-``) → ``antonym``; a synonym or a derived form
   (``quick``/``quickly``) explains it; anything else → ``unexplained``;
5. **roles**: the same words in swapped roles ("X to Y" / "Y to X", "A faster than B" /
   "B faster than A", "dog bites man" / "man bites dog") → ``roles``.

Function words (articles, auxiliaries, modals, pronouns, "what"/"how") are ignored. The
lexicon is WordNet (:mod:`.lexicon`); without it no two different words count as
synonyms, so the verifier only gets stricter. Each rejection's :attr:`Verdict.reason`
starts with its code (``"antonym: 'safe' vs 'unsafe'"``); :class:`~.SemanticCache` counts
them per code in ``CacheStats.rejections_by_reason``.

Example:
    .. code-block:: python

        verifier = NearMissVerifier()
        verifier.verify("turn on the lights", "turn off the lights", 0.93).reason
        # "antonym: 'on' vs 'off'"
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from langchain_tokenopt.cache.align import OPPOSITE_PREPOSITIONS, ROLE_CLASSES, Slot, analyze
from langchain_tokenopt.cache.lexicon import Lexicon, load_lexicon
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["REJECTION_CODES", "HitVerifier", "NearMissVerifier", "Verdict", "reason_code"]

logger = logging.getLogger(__name__)

#: Every reason code a :class:`NearMissVerifier` rejection starts with.
REJECTION_CODES = (
    "negation",
    "quote",
    "code",
    "time",
    "date",
    "unit",
    "number",
    "entity",
    "question",
    "antonym",
    "unexplained",
    "roles",
)


@dataclass(frozen=True)
class Verdict:
    """Decision of a hit verifier."""

    accepted: bool
    """Whether the candidate may be served."""
    reason: str = ""
    """Why it was rejected (``""`` when accepted): a code, a colon, the details."""


def reason_code(reason: str) -> str:
    """Return the code of a rejection reason (the part before the first colon)."""
    return reason.split(":", 1)[0].strip() or "unspecified"


class HitVerifier(Protocol):
    """Anything that can accept or reject a cache candidate."""

    def verify(self, query: str, candidate: str, similarity: float) -> Verdict:
        """Return whether ``candidate``'s answer may be served for ``query``."""
        ...


_NEG_PREFIXES = ("un", "non", "dis", "in", "im", "il", "ir", "anti", "de")
_TYPED = ("quote", "code", "time", "date")
_ITEM_KINDS = ("word", "entity", "number", "quantity", "code", "quote", "time", "date")
_NO_LEXICON = Lexicon()
_LONG_WORDS = 9
# fmt: off
_QUESTION_WORDS = frozenset((
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are",
    "was", "were", "do", "does", "did", "can", "could", "should", "would", "will", "shall",
    "may", "might", "must", "has", "have", "had",
))
# fmt: on
_LONG_SHARE = 4


@dataclass(frozen=True)
class _Side:
    slots: list[Slot]
    counts: dict[str, Counter[str]]


def _side(slots: list[Slot]) -> _Side:
    counts: dict[str, Counter[str]] = {}
    for slot in slots:
        counts.setdefault(slot.kind, Counter())[slot.value] += 1
    return _Side(slots, counts)


def _neg_prefixed(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with a negation prefix or the ``-less`` suffix, or vice versa."""
    for x, y in ((a, b), (b, a)):
        if len(y) >= 3 and any(x == p + y or x == f"{p}-{y}" for p in _NEG_PREFIXES):
            return True
        if x.endswith("less") and len(x) > 6 and y.startswith(x[:-4]) and y != x:
            return True
    return False


class NearMissVerifier:
    """Accept a cache candidate only when every difference from the query is explained.

    Args:
        check_entities: Reject when a named entity (a capitalized word inside the text, an
            acronym, an unknown capitalized first word) of one side is absent from the other
            ("capital of France" vs "capital of Spain").
        check_numbers: Reject on differing numbers, units, times and dates.
        lexicon: Word relations; ``None`` loads WordNet (:func:`~.lexicon.load_lexicon`),
            and when WordNet is not installed runs without one (stricter).
        rewrite_words: A candidate that is a *rewrite* (more than this many unexplained
            content words in all, every other check passed) is accepted: a sentence
            embedding is blind to a one-word swap, not to a reworded sentence it still scores
            above the threshold; so is a long text (nine or more content words on each side)
            with at most one unexplained word in four: the typed checks have already caught
            numbers, negation, antonyms and roles. ``0`` requires every word to be explained.

    Example:
        .. code-block:: python

            v = NearMissVerifier()
            v.verify("flights to Paris on May 3", "flights to Paris on May 4", 0.97)
            # Verdict(accepted=False, reason='number: 3 vs 4')
    """

    def __init__(
        self,
        *,
        check_entities: bool = True,
        check_numbers: bool = True,
        lexicon: Lexicon | None = None,
        rewrite_words: int = 2,
    ) -> None:
        if not isinstance(check_entities, bool) or not isinstance(check_numbers, bool):
            msg = "check_entities and check_numbers must be bools"
            raise TokenOptConfigError(msg)
        if lexicon is not None and not isinstance(lexicon, Lexicon):
            msg = f"lexicon must be a Lexicon or None, got {type(lexicon).__name__}"
            raise TokenOptConfigError(msg)
        if (
            isinstance(rewrite_words, bool)
            or not isinstance(rewrite_words, int)
            or rewrite_words < 0
        ):
            msg = f"rewrite_words must be an int >= 0 (0 = never), got {rewrite_words!r}"
            raise TokenOptConfigError(msg)
        self.rewrite_words = rewrite_words
        self.check_entities = check_entities
        self.check_numbers = check_numbers
        self._lexicon = lexicon

    @property
    def lexicon(self) -> Lexicon:
        """The word relations in use (an empty lexicon when WordNet is missing)."""
        if self._lexicon is None:
            self._lexicon = load_lexicon() or _NO_LEXICON
        return self._lexicon

    def verify(self, query: str, candidate: str, similarity: float) -> Verdict:
        """Return whether ``candidate``'s cached answer may be served for ``query``.

        ``similarity`` is accepted for verifiers that weigh it; this one does not.
        """
        reason = self.explain(query, candidate)
        if reason:
            logger.debug("verifier rejected %r for %r: %s", candidate, query, reason)
            return Verdict(False, reason)
        return Verdict(True)

    def explain(self, query: str, candidate: str) -> str:
        """Return the first unexplained difference as ``"code: details"``, or ``""``."""
        lex = self.lexicon
        known = lex.known if lex.synsets else None
        q = _side(analyze(query, known_word=known))
        c = _side(analyze(candidate, known_word=known))
        q_neg, c_neg = _negations(q.slots), _negations(c.slots)
        if q_neg % 2 != c_neg % 2:
            return f"negation: {q_neg} vs {c_neg} negations"
        for kind in _TYPED:
            if not self.check_numbers and kind in ("time", "date"):
                continue
            diff = _diff(q.counts.get(kind), c.counts.get(kind))
            if diff:
                return f"{kind}: {diff}"
        if self.check_numbers:
            reason = _numbers(q, c)
            if reason:
                return reason
        if self.check_entities:
            reason = self._entities(q, c)
            if reason:
                return reason
        diff = _diff(q.counts.get("wh"), c.counts.get("wh"))
        if diff and (_asks(query) or _asks(candidate)):  # "when" in a statement is a conjunction
            return f"question: {diff}"
        reason = _prepositions(q, c)
        if reason:
            return reason
        reason, pairs = self._words(q, c)
        if reason:
            return reason
        return _roles(q.slots, c.slots, pairs)

    # ------------------------------------------------------------------ rules

    def _entities(self, q: _Side, c: _Side) -> str:
        missing: list[str] = []
        for one, other in ((q, c), (c, q)):
            present = {s.value for s in other.slots} | {
                lemma for s in other.slots if s.kind == "word" for lemma in self._lemmas(s.value)
            }
            for slot in one.slots:
                if (
                    slot.kind == "entity"
                    and slot.value not in present
                    and not self._lemmas(slot.value) & present
                ):
                    missing.append(slot.surface)
        return f"entity: {sorted(set(missing))[:4]}" if missing else ""

    def _lemmas(self, word: str) -> frozenset[str]:
        lex = self.lexicon
        return lex.lemmas(word) if lex.synsets else frozenset({word, _strip_plural(word)})

    def _related(self, a: str, b: str) -> bool:
        lex = self.lexicon
        if lex.synsets:
            return lex.related(a, b) or lex.synonyms(a, b)
        return bool(self._lemmas(a) & self._lemmas(b)) or _same_stem(a, b)

    def _words(self, q: _Side, c: _Side) -> tuple[str, dict[str, str]]:
        """Align content words; return a rejection (or ``""``) and word → counterpart pairs."""
        lex = self.lexicon
        q_words = [s.value for s in q.slots if s.kind == "word"]
        c_words = [s.value for s in c.slots if s.kind == "word"]
        qc, cc = Counter(q_words), Counter(c_words)
        q_left, c_left = list((qc - cc).elements()), list((cc - qc).elements())
        q_lem = {w: self._lemmas(w) for w in q_left}
        c_lem = {w: self._lemmas(w) for w in c_left}
        c_all = set().union(*c_lem.values()) if c_lem else set()
        q_all = set().union(*q_lem.values()) if q_lem else set()
        q_rest = [w for w in dict.fromkeys(q_left) if not q_lem[w] & c_all]
        c_rest = [w for w in dict.fromkeys(c_left) if not c_lem[w] & q_all]
        pairs: dict[str, str] = {}
        for a in q_rest:
            for b in c_rest:
                if _neg_prefixed(a, b) or (lex.synsets and lex.antonyms(a, b)):
                    return f"antonym: {a!r} vs {b!r}", pairs
        unexplained: tuple[list[str], list[str]] = ([], [])
        for one, other_rest, other_all, missing in (
            (q_rest, c_rest, c_words, unexplained[0]),
            (c_rest, q_rest, q_words, unexplained[1]),
        ):
            for a in one:
                match = next((b for b in other_rest if self._related(a, b)), None)
                if match is None:
                    match = next((b for b in other_all if b != a and self._related(a, b)), None)
                if match is None:
                    missing.append(a)
                else:
                    pairs[a] = match
        uq, uc = unexplained
        if not uq and not uc:
            return "", pairs
        if self._tolerated(uq, uc, len(q_words), len(c_words)):
            return "", pairs
        word, side = (uq[0], "query") if uq else (uc[0], "candidate")
        return f"unexplained: {word!r} ({side} only)", pairs

    def _tolerated(self, uq: list[str], uc: list[str], n_q: int, n_c: int) -> bool:
        """Whether the unexplained words ``uq`` / ``uc`` still make a paraphrase."""
        if not self.rewrite_words:
            return False
        n = len(uq) + len(uc)
        if n > self.rewrite_words and (uq or uc):
            return True  # a reworded sentence (words added, or replaced on both sides)
        # a long sentence with a word or two reworded: a one-slot near miss is caught by the
        # typed checks above; what is left is mostly phrasing (dev: no hard negative is this long)
        return min(n_q, n_c) >= _LONG_WORDS and n * _LONG_SHARE <= min(n_q, n_c)


def _negations(slots: Sequence[Slot]) -> int:
    """Negations that count for polarity (an opening "No," answers, it does not negate)."""
    count = sum(s.kind == "neg" for s in slots)
    if slots and slots[0].kind == "neg" and slots[0].surface.lower() == "no":
        count -= 1
    return count


def _asks(text: str) -> bool:
    """Whether ``text`` reads as a question (a ``?``, or a question word first)."""
    first = text.lstrip().split(maxsplit=1)[:1]
    return "?" in text or (bool(first) and first[0].lower().strip(",:") in _QUESTION_WORDS)


def _strip_plural(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _same_stem(a: str, b: str) -> bool:
    """Crude derived-form test used without a lexicon (``quick``/``quickly``)."""
    for x, y in ((a, b), (b, a)):
        for suffix in ("ly", "ness", "ment", "ing", "ed", "er", "ers", "ation", "ion", "al"):
            if x == y + suffix and len(y) >= 4:
                return True
    return False


def _diff(a: Counter[str] | None, b: Counter[str] | None) -> str:
    a, b = a or Counter(), b or Counter()
    if a == b:
        return ""
    only_q, only_c = sorted((a - b).elements()), sorted((b - a).elements())
    return f"{' '.join(only_q) or '-'} vs {' '.join(only_c) or '-'}"


def _numbers(q: _Side, c: _Side) -> str:
    def values(side: _Side) -> Counter[str]:
        found = Counter(side.counts.get("number", Counter()))
        found.update(side.counts.get("quantity", Counter()))
        return found

    qv, cv = values(q), values(c)
    if qv == cv:
        return ""
    q_num = sorted(v.split()[0] for v in qv.elements())
    c_num = sorted(v.split()[0] for v in cv.elements())
    code = "unit" if q_num == c_num else "number"
    return f"{code}: {_diff(qv, cv)}"


def _prepositions(q: _Side, c: _Side) -> str:
    qp, cp = q.counts.get("prep", Counter()), c.counts.get("prep", Counter())
    q_only, c_only = set(qp - cp), set(cp - qp)
    if "not" in q.counts.get("neg", ()) and "with" in c_only:
        c_only.discard("with")
    for a in sorted(q_only):
        for b in sorted(c_only):
            if frozenset((a, b)) in OPPOSITE_PREPOSITIONS:
                return f"antonym: {a!r} vs {b!r}"
    return ""


def _items(slots: Sequence[Slot], pairs: dict[str, str]) -> list[tuple[str, str]]:
    """(item, role) per content slot; role is the role marker since the previous item."""
    out: list[tuple[str, str]] = []
    role = ""
    for slot in slots:
        if slot.kind in ("prep", "marker") and slot.value in ROLE_CLASSES:
            role = slot.value
        elif slot.kind in _ITEM_KINDS:
            out.append((pairs.get(slot.value, slot.value), role))
            role = ""
    return out


def _roles(q: Sequence[Slot], c: Sequence[Slot], pairs: dict[str, str]) -> str:
    qi, ci = _items(q, pairs), _items(c, pairs)
    q_count = Counter(item for item, _ in qi)
    c_count = Counter(item for item, _ in ci)
    shared = {i for i in q_count if q_count[i] == 1 and c_count.get(i) == 1}
    q_pos = {i: n for n, (i, _) in enumerate(qi) if i in shared}
    c_pos = {i: n for n, (i, _) in enumerate(ci) if i in shared}
    for marker in ROLE_CLASSES:
        q_role = {i for i, r in qi if r == marker and i in shared}
        c_role = {i for i, r in ci if r == marker and i in shared}
        # an exchange: each side has an item after the marker that the other has elsewhere;
        # one side's extra item ("to install" in one phrasing only) is not
        if q_role - c_role and c_role - q_role:
            return f"roles: {marker!r} takes {sorted(c_role)} vs {sorted(q_role)}"
    order = sorted(shared, key=q_pos.__getitem__)
    for n, x in enumerate(order):
        for y in order[n + 1 :]:
            if c_pos[x] < c_pos[y]:
                continue
            between = {
                z
                for z in shared
                if q_pos[x] < q_pos[z] < q_pos[y] and c_pos[y] < c_pos[z] < c_pos[x]
            }
            if between:
                return f"roles: {x!r} and {y!r} swap around {sorted(between)[0]!r}"
    return ""
