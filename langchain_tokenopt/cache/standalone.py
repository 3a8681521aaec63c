"""Whether a question is standalone, so its conversation may be left out of the cache scope.

With ``SemanticCache(history_policy="standalone")`` (or a :class:`StandalonePolicy`) a
question that reads as self-contained is looked up without the digest of earlier turns, so a
repeat hits across conversations of the same tenant, user, model, system prompt and tools.
A follow-up ("And the boots?", "When will the refund show up?") keeps its conversation in
the scope.

The rules are written by hand (no library detects context dependence offline). A false
"dependent" only costs a cache miss; a false "standalone" lets a question be looked up
outside its conversation, so the defaults lean to "dependent". The vocabulary is data: a
shop's transaction nouns ("the refund", "the parcel": things the conversation named before)
and the words that make such a noun generic ("the refund policy") can be extended.

Earlier turns that called tools normally keep the conversation in the scope, since a tool
result is data of that conversation. Turns that called only tools declared *cacheable*
(``cacheable_tools=`` of the optimized agent, :mod:`.tool_policy`) do not: their results are
read-only data any conversation of the same user would get, and the graph gives the stored
answer the smallest lifetime of those tools, so it expires with them.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import SemanticCache, StandalonePolicy

        policy = StandalonePolicy.default().extend(transaction_nouns={"prescription"})
        policy.is_standalone("When will the prescription be ready?")  # False
        cache = SemanticCache(history_policy=policy)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "DEFAULT_NOUN_QUALIFIERS",
    "DEFAULT_OPENERS",
    "DEFAULT_REFERENCE_WORDS",
    "DEFAULT_TRANSACTION_NOUNS",
    "HistoryPolicy",
    "StandalonePolicy",
    "is_standalone",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Openers of an ellipsis or a correction ("And the boots?", "What about Columbus?").
DEFAULT_OPENERS = frozenset(
    {
        *_words("and but or so then also now only actually instead plus great ok okay same"),
        *_words("yes no sure"),
        "what about",
        "how about",
        "make it",
        "do it",
    }
)
#: Words that point at earlier turns by meaning ("the former", "same again", "anything else").
DEFAULT_REFERENCE_WORDS = _words(
    "former latter above aforementioned previous previously earlier again instead else same "
    "mentioned said"
)
#: Nouns that, after "the" and with no id, name a transaction of the conversation
#: ("when will the refund show up?").
DEFAULT_TRANSACTION_NOUNS = _words(
    "refund order return claim package parcel shipment delivery item items charge ticket "
    "booking reservation replacement exchange invoice case request"
)
#: Words after a transaction noun that make it generic ("the refund policy", "the return
#: window"), so the question stays standalone.
DEFAULT_NOUN_QUALIFIERS = _words(
    "window policy policies rate rates process label labels form forms fee fees period limit "
    "limits history address method methods number option options status"
)

_EXISTENTIAL = _words(
    "is are was were be been will won't must should might may could has have isn't aren't "
    "wasn't weren't"
)
# Pronouns and demonstratives that stand for something said before, unless the same message
# introduced it first ("If I tried my boots on at home, can I send them back?").
_SINGULAR = frozenset({"it", "its", "he", "him", "his", "she", "her", "hers", "this", "that"})
_PLURAL = frozenset({"they", "them", "their", "theirs", "these", "those"})
_TIME_WORDS = _words(
    "morning afternoon evening night weekend week month year season spring summer autumn fall "
    "winter time quarter"
)
# Words before "that" after which it is a pronoun or determiner ("is that covered?", "buy
# that tent"); after any other word it is a relative or a conjunction ("a store that has").
_THAT_POINTS = _words(
    "about with for of on in to like from is was does do did get buy order return ship have "
    "want need take keep try use cancel change track book are can will would could should"
)
_DETERMINER = re.compile(
    r"\b(my|our|your|a|an|the|some|any|another|each|every|his|her|their)\s+", re.IGNORECASE
)
# "it" that stands for nothing: "how long does it take to ...", "is it possible to ..."
_DUMMY_IT = _words(
    "take takes cost costs possible safe ok okay true worth necessary allowed legal normal "
    "free too better easier cheaper"
)
_CLAUSE_BREAK = re.compile(
    r"[,;:.!?]|\b(and|but|or|if|when|so|because|until|once|that|which|who|while)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[^\sA-Za-z]")
# "the second one", "that one", "the others", "which ones", and "... too?" at the end.
_ONES = (
    r"\b(the|this|that|these|those|which|other|another|first|second|third|fourth|fifth|"
    r"last|next|cheaper|bigger|smaller|new|old)\s+ones?\b|\bthe\s+others?\b|\btoo\W*$"
)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def _word_set(name: str, value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Collection):
        msg = f"StandalonePolicy.{name} must be a set of words, got {value!r}"
        raise TokenOptConfigError(msg)
    words = set()
    for word in value:
        if not isinstance(word, str) or not word.strip():
            msg = f"StandalonePolicy.{name} must hold non-empty strings, got {word!r}"
            raise TokenOptConfigError(msg)
        words.add(" ".join(word.lower().split()))
    return frozenset(words)


@dataclass(frozen=True, kw_only=True)
class StandalonePolicy:
    """The vocabulary and rules that decide whether a question is standalone.

    A question depends on earlier turns when it has fewer than ``min_words`` words, opens
    with one of ``openers``, uses one of ``reference_words``, names earlier turns ("the
    second one", "... too?"), uses "the" + one of ``transaction_nouns`` not followed by an id
    or one of ``noun_qualifiers``, or uses a pronoun or demonstrative that the question did
    not introduce itself. Words are matched case-insensitively.

    Pass it as ``SemanticCache(history_policy=policy)``; ``history_policy="standalone"`` is
    :meth:`default`.

    Example:
        .. code-block:: python

            from langchain_tokenopt.cache import StandalonePolicy

            pharmacy = StandalonePolicy.default().extend(transaction_nouns={"prescription"})
            pharmacy.is_standalone("Is the prescription ready?")  # False
            pharmacy.is_standalone("Do you deliver prescriptions on Sundays?")  # True
    """

    openers: frozenset[str] = field(default=DEFAULT_OPENERS)
    """Words or phrases that open a follow-up when they start the question."""
    reference_words: frozenset[str] = field(default=DEFAULT_REFERENCE_WORDS)
    """Words that point at earlier turns anywhere in the question."""
    transaction_nouns: frozenset[str] = field(default=DEFAULT_TRANSACTION_NOUNS)
    """Nouns that after "the" (and with no id) name something of the conversation."""
    noun_qualifiers: frozenset[str] = field(default=DEFAULT_NOUN_QUALIFIERS)
    """Words after a transaction noun that make it generic ("the refund policy")."""
    min_words: int = 4
    """Questions with fewer words are follow-ups ("And in blue?")."""
    cacheable_tool_turns_are_private: bool = False
    """Whether earlier turns that called only cacheable tools keep the conversation in the
    scope (``True`` restores the strictest rule: any tool call in the history does)."""

    def __post_init__(self) -> None:
        for name in ("openers", "reference_words", "transaction_nouns", "noun_qualifiers"):
            object.__setattr__(self, name, _word_set(name, getattr(self, name)))
        if isinstance(self.min_words, bool) or not isinstance(self.min_words, int):
            msg = f"StandalonePolicy.min_words must be an int, got {self.min_words!r}"
            raise TokenOptConfigError(msg)
        if self.min_words < 1:
            msg = f"StandalonePolicy.min_words must be >= 1, got {self.min_words}"
            raise TokenOptConfigError(msg)
        if not isinstance(self.cacheable_tool_turns_are_private, bool):
            msg = (
                "StandalonePolicy.cacheable_tool_turns_are_private must be True or False, "
                f"got {self.cacheable_tool_turns_are_private!r}"
            )
            raise TokenOptConfigError(msg)

    @classmethod
    def default(cls) -> StandalonePolicy:
        """The policy of ``history_policy="standalone"`` (a retail-support vocabulary)."""
        return _DEFAULT

    def extend(
        self,
        *,
        openers: Iterable[str] = (),
        reference_words: Iterable[str] = (),
        transaction_nouns: Iterable[str] = (),
        noun_qualifiers: Iterable[str] = (),
    ) -> StandalonePolicy:
        """Return a copy with the given words added to each set.

        Raises:
            TokenOptConfigError: a word is not a non-empty string.
        """
        return replace(
            self,
            openers=self.openers | _word_set("openers", list(openers)),
            reference_words=self.reference_words
            | _word_set("reference_words", list(reference_words)),
            transaction_nouns=self.transaction_nouns
            | _word_set("transaction_nouns", list(transaction_nouns)),
            noun_qualifiers=self.noun_qualifiers
            | _word_set("noun_qualifiers", list(noun_qualifiers)),
        )

    @functools.cached_property
    def _opener(self) -> re.Pattern[str]:
        return re.compile(rf"^\W*({_alternation(self.openers)})\b", re.IGNORECASE)

    @functools.cached_property
    def _back_reference(self) -> re.Pattern[str]:
        parts = [_ONES]
        if self.reference_words:
            parts.insert(0, rf"\b({_alternation(self.reference_words)})\b")
        if self.transaction_nouns:
            qualifier = (
                rf"|({_alternation(self.noun_qualifiers)})\b" if self.noun_qualifiers else ""
            )
            parts.append(
                rf"\bthe\s+({_alternation(self.transaction_nouns)})\b"
                rf"(?![\w-])(?!\s+(#?\d|[A-Z]{{2,}}-\d{qualifier}))"
            )
        return re.compile("|".join(parts), re.IGNORECASE)

    def is_standalone(self, text: str) -> bool:
        """Return whether ``text`` reads as self-contained (no reference to earlier turns).

        Time phrases ("this weekend", "last month"), existential "there" and "other stores"
        do not count as references.

        Example:
            .. code-block:: python

                StandalonePolicy.default().is_standalone("Do you price match other stores?")
        """
        if len(re.findall(r"\w+", text)) < self.min_words:
            return False
        if (self.openers and self._opener.search(text)) or self._back_reference.search(text):
            return False
        return not _unresolved_pronoun(text)

    def history_is_private(
        self, history_tools: Iterable[str], cacheable_tools: Collection[str]
    ) -> bool:
        """Whether tool calls in the earlier turns keep the conversation in the scope.

        ``history_tools`` names the tools the earlier turns called (``""`` for a tool result
        whose call is unknown); ``cacheable_tools`` the tools declared cacheable for this
        request. No tool call: ``False``. Any tool not cacheable, or
        :attr:`cacheable_tool_turns_are_private`: ``True``.
        """
        names = list(history_tools)
        if not names:
            return False
        if self.cacheable_tool_turns_are_private:
            return True
        return any(name not in cacheable_tools for name in names)


_DEFAULT = StandalonePolicy()

#: How a cache treats earlier turns: ``"always"`` keeps them in the scope, ``"standalone"``
#: (:meth:`StandalonePolicy.default`) or a :class:`StandalonePolicy` leaves them out for
#: standalone questions.
HistoryPolicy = Literal["always", "standalone"] | StandalonePolicy


def is_standalone(text: str) -> bool:
    """Return whether a question reads as self-contained, by :meth:`StandalonePolicy.default`.

    Example:
        .. code-block:: python

            is_standalone("Do you price match other stores?")  # True
            is_standalone("What about the second one?")  # False
    """
    return _DEFAULT.is_standalone(text)


def _introduced_before(text: str, plural: bool) -> bool:
    """Whether ``text`` (the words before a pronoun) introduces a noun phrase, then a clause break.

    ``plural`` asks for a plural noun in the phrase (``them`` → ``my boots``).
    """
    for match in _DETERMINER.finditer(text):
        rest = text[match.end() :]
        brk = _CLAUSE_BREAK.search(rest)
        if brk is None:
            return False
        words = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]*", rest[: brk.start()])][:3]
        if not words:
            continue
        if plural and not any(
            w.endswith("s") and not w.endswith(("ss", "us", "is")) for w in words
        ):
            continue
        return True
    return False


def _unresolved_pronoun(text: str) -> bool:
    tokens = list(_TOKEN.finditer(text))
    for n, tok in enumerate(tokens):
        word = tok.group(0).lower().split("'")[0]
        after = tokens[n + 1].group(0).lower() if n + 1 < len(tokens) else ""
        before = tokens[n - 1].group(0).lower() if n else ""
        if word == "there":  # "how long to ship there?", not "is there a store ..."
            if before not in _EXISTENTIAL and after not in _EXISTENTIAL:
                return True
            continue
        if word not in _SINGULAR and word not in _PLURAL:
            continue
        following = [t.group(0).lower() for t in tokens[n + 1 : n + 4]]
        if word == "it" and "to" in following and _DUMMY_IT.intersection(following):
            continue  # "how long does it take to ship to Alaska?"
        if word in ("this", "that", "these", "those") and after in _TIME_WORDS:
            continue  # "this weekend": a time, not a reference
        if word == "that" and before and before.isalpha() and before not in _THAT_POINTS:
            continue  # a relative or conjunction: "a store that has", "sure that"
        if not _introduced_before(text[: tok.start()], plural=word in _PLURAL):
            return True
    return False
