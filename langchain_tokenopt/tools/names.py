"""Find tool names the user mentions, exactly or with a one-character typo.

A mention is a run of up to six query words whose letters and digits, joined, equal a tool
name's (``get_weather``, ``getWeather``, ``get weather`` all name ``get_weather``). Names
made of one word (``search``) only count when written verbatim with the same case and at
least one upper-case letter or digit, so ordinary words don't force tools. A *strong*
mention writes the name as an identifier (``get_weather``, ``getWeather``); a *weak* one
uses plain words (``get weather``); only names of eight or more letters can be named in
plain words (so everyday phrases such as "help me" don't force ``help_me``). For compact
names of eight or more characters, one insertion, deletion or substitution is accepted. The
part after the last dot (``ChaDri.change_drink`` → ``change_drink``) is an alias when no
other tool shares it.

Example:
    .. code-block:: python

        matcher = NameMatcher(["get_weather", "send_email"])
        matcher.find("please call get_wether for Paris")  # ["get_weather"]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from langchain_tokenopt.tools.catalog import name_words

__all__ = ["NameMatcher"]

_WORD = re.compile(r"[A-Za-z0-9]+")
_RAW = re.compile(r"[A-Za-z0-9_.\-]+")
_MAX_GRAM = 6
_IDENT = re.compile(r"[_.]|[a-z][A-Z]|[A-Za-z][0-9]")
_FUZZY_MIN = 8
#: Characters at either end of a long name that one edit leaves intact at one end at least.
_ENDS = 4
#: Word runs whose near-name candidates are memoized per matcher (cleared when full).
_NEAR_CACHE_SIZE = 65_536


def _deletions(text: str) -> set[str]:
    return {text[:i] + text[i + 1 :] for i in range(len(text))}


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


class NameMatcher:
    """Index of tool names for exact and near-exact mentions in a query.

    Args:
        names: The catalog's tool names.

    Example:
        .. code-block:: python

            NameMatcher(["ChaDri.change_drink"]).find("use change_drink")  # ["ChaDri.change_drink"]
    """

    def __init__(self, names: Sequence[str]) -> None:
        self._compact: dict[str, list[str]] = defaultdict(list)
        self._single: dict[str, list[str]] = defaultdict(list)
        alias_owners: dict[str, list[str]] = defaultdict(list)
        for name in names:
            words = name_words(name)
            if len(words) >= 2:
                self._compact["".join(words)].append(name)
            elif words and (any(c.isupper() or c.isdigit() for c in name)):
                self._single[name].append(name)
            if "." in name:
                tail = name_words(name.rsplit(".", 1)[1])
                if len(tail) >= 2:
                    alias_owners["".join(tail)].append(name)
        for alias, owners in alias_owners.items():
            if len(owners) == 1 and alias not in self._compact:
                self._compact[alias].append(owners[0])
        self._max_len = max((len(c) for c in self._compact), default=0) + 1
        self._near_cache: dict[str, tuple[str, ...]] = {}
        self._fuzzy: dict[str, set[str]] = defaultdict(set)
        # A text within one edit of a name of >= _FUZZY_MIN (>= 2 * _ENDS) characters keeps
        # the name's first or last _ENDS characters (one edit cannot reach both ends), so a
        # text matching neither end has no near name: an exact filter before any lookup.
        self._heads: set[str] = set()
        self._tails: set[str] = set()
        for compact in self._compact:
            if len(compact) >= _FUZZY_MIN:
                self._heads.add(compact[:_ENDS])
                self._tails.add(compact[-_ENDS:])
                self._fuzzy[compact].add(compact)
                for d in _deletions(compact):
                    self._fuzzy[d].add(compact)

    def find(self, query: str) -> list[str]:
        """Return the tool names mentioned in ``query`` (strong mentions first)."""
        return [name for name, _ in self.find_with_strength(query)]

    def find_with_strength(self, query: str) -> list[tuple[str, bool]]:
        """Return ``(name, strong)`` for each mention, strong ones first.

        A mention is *strong* when the query writes the name as an identifier (``get_weather``,
        ``getWeather``, ``ChaDri.change_drink``, or one of those with one typo); a mention by
        plain words (``get weather``) is *weak*, and only counts for names of at least eight
        letters.
        """
        strong: dict[str, None] = {}
        for raw in _RAW.findall(query):
            token = raw.strip("._-")
            for name in self._single.get(token, ()):
                strong.setdefault(name, None)
            if not _IDENT.search(token):
                continue
            strong.update(dict.fromkeys(self._spelled("".join(name_words(token)))))
        weak: dict[str, None] = {}
        words = [w.lower() for w in _WORD.findall(query)]
        for start in range(len(words)):
            gram = ""
            for n in range(min(_MAX_GRAM, len(words) - start)):
                gram += words[start + n]
                if len(gram) > self._max_len:
                    break
                if len(gram) >= _FUZZY_MIN:
                    weak.update(dict.fromkeys(self._spelled(gram)))
        out = [(name, True) for name in strong]
        out.extend((name, False) for name in weak if name not in strong)
        return out

    def _spelled(self, compact: str) -> list[str]:
        """Names whose compact form is ``compact``, else those within one edit of it.

        Near names only for ``compact`` of at least ``_FUZZY_MIN`` characters.
        """
        if compact in self._compact:
            return self._compact[compact]
        if len(compact) < _FUZZY_MIN:
            return []
        return [name for near in self._near(compact) for name in self._compact[near]]

    def _near(self, gram: str) -> tuple[str, ...]:
        """Compact names within one edit of ``gram`` (memoized: queries share word runs)."""
        if gram[:_ENDS] not in self._heads and gram[-_ENDS:] not in self._tails:
            return ()
        hit = self._near_cache.get(gram)
        if hit is not None:
            return hit
        candidates: set[str] = set(self._fuzzy.get(gram, ()))
        for d in _deletions(gram):
            candidates |= self._fuzzy.get(d, set())
        found = tuple(sorted(c for c in candidates if _within_one_edit(c, gram)))
        if len(self._near_cache) >= _NEAR_CACHE_SIZE:
            self._near_cache.clear()
        self._near_cache[gram] = found
        return found
