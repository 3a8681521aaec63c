"""Turn LangChain's ``(prompt, llm_string)`` into what is embedded and what must match.

LangChain hands a cache the prompt (for chat models ``langchain_core.load.dumps`` of the
message list, ids removed) and an ``llm_string`` (the serialized model plus the call's
parameters). From them we build:

* the **query text**: the newest human message only (the one thing that is embedded);
* the **scope**: digests of everything else that changes the answer and must match exactly:
  model identity (``llm_string`` minus volatile fields such as timeouts, retries, streaming),
  system prompt, earlier and later turns of the conversation, bound tool schemas and
  structured-output format, tenant and user;
* the **entry id**: a digest of scope + the question's canonical form
  (:func:`~.canonical.canonical_text`: case, punctuation, contractions and unit spellings
  folded), the exact fast-path key.

All functions here are pure.

Example:
    .. code-block:: python

        key = build_key(prompt, llm_string, CallerScope(tenant_id="acme"))
        key.query_text, key.scope, key.entry_id
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from langchain_tokenopt.cache.canonical import canonical_text
from langchain_tokenopt.cache.scope import CallerScope, check_tags
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "HistoryPolicy",
    "is_standalone",
    "CacheKey",
    "ModelIdentity",
    "build_key",
    "check_entry_id",
    "clear_filters",
    "digest",
    "normalize_text",
    "parse_llm_string",
]

HistoryPolicy = Literal["always", "standalone"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words and patterns that make a question lean on earlier turns. Written by hand: no library
# detects context dependence offline, and a false "dependent" only costs a cache miss, while a
# false "standalone" lets a question be looked up outside its conversation.
_OPENER = re.compile(
    r"^\W*(and|but|or|so|then|also|now|only|actually|instead|plus|great|ok|okay|"
    r"what about|how about|same|make it|do it|yes|no|sure)\b",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(
    # words that point at earlier turns by meaning: "the former", "same again", "anything else"
    r"\b(former|latter|above|aforementioned|previous|previously|earlier|again|instead|else|"
    r"same|mentioned|said)\b"
    # "the second one", "that one", "the others", "which ones"
    r"|\b(the|this|that|these|those|which|other|another|first|second|third|fourth|fifth|"
    r"last|next|cheaper|bigger|smaller|new|old)\s+ones?\b|\bthe\s+others?\b"
    # "... too?" at the end
    r"|\btoo\W*$"
    # a definite transaction noun with no id after it: "when will the refund show up?"
    r"|\bthe\s+(refund|order|return|claim|package|parcel|shipment|delivery|item|items|charge|"
    r"ticket|booking|reservation|replacement|exchange|invoice|case|request)\b"
    r"(?![\w-])(?!\s+(#?\d|[A-Z]{2,}-\d|(window|policy|policies|rates?|process|labels?|forms?|"
    r"fees?|period|limits?|history|address|methods?|number|options?|status)\b))",
    re.IGNORECASE,
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


def is_standalone(text: str) -> bool:
    """Return whether a question reads as self-contained (no reference to earlier turns).

    A question depends on earlier turns when it is short (under four words), opens with an
    ellipsis or a correction ("And the boots?", "What about Columbus?", "Actually, ..."),
    names earlier turns ("the second one", "same again", "anything else"), uses a definite
    transaction noun with no id ("the refund"), or uses a pronoun or demonstrative that the
    question itself did not introduce ("Is it in stock?" but not "If I tried my boots on,
    can I send them back?"). Time phrases ("this weekend", "last month"), existential
    "there" and "other stores" do not count.

    Example:
        .. code-block:: python

            is_standalone("Do you price match other stores?")  # True
            is_standalone("What about the second one?")  # False
    """
    words = re.findall(r"\w+", text)
    if len(words) < 4:
        return False
    if _OPENER.search(text) or _BACK_REFERENCE.search(text):
        return False
    return not _unresolved_pronoun(text)


#: Model/call parameters that never change the answer.
VOLATILE_FIELDS = frozenset(
    {
        "timeout",
        "request_timeout",
        "max_retries",
        "streaming",
        "stream",
        "stream_usage",
        "callbacks",
        "callback_manager",
        "verbose",
        "tags",
        "metadata",
        "rate_limiter",
        "disable_streaming",
        "cache",
        "http_client",
        "http_async_client",
        "default_headers",
        "default_query",
        "api_key",
        "openai_api_key",
        "anthropic_api_key",
        "google_api_key",
        "base_url",
        "openai_api_base",
        "openai_proxy",
        "run_manager",
        "output_version",
    }
)
#: Call parameters that are the tool / structured-output contract (their own digest).
TOOL_FIELDS = frozenset(
    {
        "tools",
        "tool_choice",
        "functions",
        "function_call",
        "response_format",
        "ls_structured_output_format",
        "parallel_tool_calls",
    }
)
_MODEL_NAME_FIELDS = ("model", "model_name", "model_id", "deployment_name", "repo_id")
_WS = re.compile(r"\s+")
_TEMPERATURE = re.compile(r"""['"]?temperature['"]?\s*[:,=]\s*([0-9][0-9.eE+-]*)""")


def digest(*parts: object) -> str:
    """Return a 32-hex digest of JSON-encoded parts (stable across processes)."""
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    # surrogatepass: a lone surrogate (invalid UTF-16 from a client) must not crash a lookup
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def normalize_text(text: str) -> str:
    """NFC-normalize, collapse whitespace and strip (case is kept: it can change meaning)."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True)
class ModelIdentity:
    """What ``llm_string`` says about the model, volatile fields removed."""

    model: str
    """Digest of the model identity (class, name and answer-changing parameters)."""
    model_name: str
    """The model name when one could be read (``""`` otherwise)."""
    tools: str
    """Digest of bound tools / structured-output format (``""`` when none)."""
    temperature: float | None
    """Sampling temperature when present."""


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE_FIELDS}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _split_llm_string(llm_string: str) -> tuple[Any, Any]:
    """Return (serialized model or None, call params dict or None)."""
    serialized: Any = None
    rest = llm_string
    if llm_string.startswith("{"):
        try:
            serialized, end = json.JSONDecoder().raw_decode(llm_string)
            rest = llm_string[end:]
            rest = rest[3:] if rest.startswith("---") else rest
        except json.JSONDecodeError:
            serialized, rest = None, llm_string
    params: Any = None
    if rest.startswith("[("):
        try:
            params = dict(ast.literal_eval(rest))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params = None
    return serialized, params


@functools.lru_cache(maxsize=256)
def parse_llm_string(llm_string: str) -> ModelIdentity:
    """Read model identity, tools and temperature out of LangChain's ``llm_string``.

    Unparseable strings are kept whole (their digest is the identity), so two different
    strings never share a scope. Memoized (pure; an app has few distinct ``llm_string``
    values, and parsing one costs more than the rest of an exact-hit lookup).
    """
    serialized, params = _split_llm_string(llm_string)
    if serialized is None and params is None:
        match = _TEMPERATURE.search(llm_string)
        return ModelIdentity(
            model=digest("raw", llm_string),
            model_name="",
            tools="",
            temperature=_as_float(match.group(1)) if match else None,
        )
    kwargs: dict[str, Any] = {}
    if isinstance(serialized, dict):
        kwargs.update(serialized.get("kwargs") or {})
    params = dict(params or {})
    tools = {k: params.pop(k) for k in list(params) if k in TOOL_FIELDS}
    merged = {**kwargs, **params}
    temperature = _as_float(merged.get("temperature"))
    name = next((str(merged[f]) for f in _MODEL_NAME_FIELDS if merged.get(f)), "")
    ident = _clean(serialized) if isinstance(serialized, dict) else None
    return ModelIdentity(
        model=digest("model", ident, _clean(params)),
        model_name=name,
        tools=digest("tools", tools) if tools else "",
        temperature=temperature,
    )


@dataclass(frozen=True)
class ParsedPrompt:
    """The prompt split into the embedded part and the exact-match context."""

    query_text: str
    """Newest human message text (or the whole text prompt of a completion LLM)."""
    embeddable: bool
    """False when the newest human message holds non-text parts (exact match only)."""
    system: str
    """Digest of the system messages (``""`` when none)."""
    history: str
    """Digest of every other message (before and after the newest human one)."""
    tool_context: bool = False
    """Whether the other messages hold tool calls or results (per-conversation data)."""


def _content_text(content: Any) -> tuple[str, bool]:
    """Return (text, text_only) for message content (str or content blocks)."""
    if isinstance(content, str):
        return content, True
    if isinstance(content, list):
        texts, text_only = [], True
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            else:
                text_only = False
        return "\n".join(texts), text_only
    return json.dumps(content, sort_keys=True, default=str), False


def _message_type(item: dict[str, Any]) -> str:
    kwargs = item.get("kwargs") or {}
    kind = kwargs.get("type")
    if isinstance(kind, str):
        return kind
    ident = item.get("id") or [""]
    name = str(ident[-1]).lower()
    for kind in ("system", "human", "ai", "tool", "function", "chat"):
        if name.startswith(kind):
            return kind
    return name


def _canonical(item: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(item.get("kwargs") or {})
    for volatile in ("id", "response_metadata", "usage_metadata"):
        kwargs.pop(volatile, None)
    return kwargs


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Split a LangChain cache prompt into query text and exact-match context digests."""
    messages: Any = None
    if prompt.startswith("[") and '"lc"' in prompt[:200]:
        try:
            messages = json.loads(prompt)
        except (json.JSONDecodeError, RecursionError):
            messages = None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return ParsedPrompt(query_text=prompt, embeddable=True, system="", history="")
    kinds = [_message_type(m) for m in messages]
    human = max((i for i, k in enumerate(kinds) if k == "human"), default=None)
    systems = [_canonical(m) for m, k in zip(messages, kinds, strict=True) if k == "system"]
    others = [
        (k, _canonical(m))
        for i, (m, k) in enumerate(zip(messages, kinds, strict=True))
        if k != "system" and i != human
    ]
    marker = human if human is not None else -1
    if human is None:
        # No human turn: nothing to embed; everything must match exactly.
        return ParsedPrompt(
            query_text="",
            embeddable=False,
            system=digest("system", systems) if systems else "",
            history=digest("history", others, marker),
        )
    text, text_only = _content_text((messages[human].get("kwargs") or {}).get("content", ""))
    extra = {k: v for k, v in _canonical(messages[human]).items() if k not in ("content", "type")}
    return ParsedPrompt(
        query_text=text,
        embeddable=text_only,
        system=digest("system", systems) if systems else "",
        history=digest("history", others, marker, extra) if (others or extra) else "",
        tool_context=any(k == "tool" for k, _ in others),
    )


@dataclass(frozen=True)
class CacheKey:
    """Everything a backend needs to find or store one prompt."""

    query_text: str
    """Normalized text that is embedded (newest human message)."""
    embeddable: bool
    """Whether the semantic path may be used for this prompt."""
    scope: str
    """Digest of all exact-match context (the vector-search pre-filter)."""
    entry_id: str
    """Digest of scope + canonical question (or the whole prompt when it is not text only)."""
    model: ModelIdentity
    """Model identity read from ``llm_string``."""
    tenant: str
    """Digest of the tenant id."""
    user: str
    """Digest of tenant + user."""


@functools.lru_cache(maxsize=1024)
def _caller_digests(tenant_id: str | None, user_id: str | None) -> tuple[str, str]:
    """Return the (tenant, user) digests of a caller (memoized: pure and hot)."""
    return digest("tenant", tenant_id), digest("user", tenant_id, user_id)


def build_key(
    prompt: str,
    llm_string: str,
    caller: CallerScope,
    *,
    history_policy: HistoryPolicy = "always",
) -> CacheKey:
    """Build the cache key of one call (pure; see the module docstring).

    With ``history_policy="standalone"`` the digest of earlier turns is left out of the scope
    when the newest question is self-contained (:func:`is_standalone`) and the earlier turns
    hold no tool calls or results, so a repeated standalone question hits across
    conversations of the same tenant/user/model/system prompt/tools. Dependent follow-ups
    keep their conversation in the scope either way.
    """
    parsed = parse_prompt(prompt)
    if (
        history_policy == "standalone"
        and parsed.history
        and not parsed.tool_context
        and parsed.embeddable
        and is_standalone(parsed.query_text)
    ):
        parsed = ParsedPrompt(
            query_text=parsed.query_text,
            embeddable=parsed.embeddable,
            system=parsed.system,
            history="",
        )
    model = parse_llm_string(llm_string)
    tenant, user = _caller_digests(caller.tenant_id, caller.user_id)
    scope = digest("scope", user, model.model, model.tools, parsed.system, parsed.history)
    query = normalize_text(parsed.query_text)
    exact_text = canonical_text(query) if parsed.embeddable and query else normalize_text(prompt)
    entry_id = digest("entry", scope, exact_text)
    return CacheKey(
        query_text=query,
        embeddable=parsed.embeddable and bool(query),
        scope=scope,
        entry_id=entry_id,
        model=model,
        tenant=tenant,
        user=user,
    )


def clear_filters(kwargs: dict[str, Any], *, action: str = "clear") -> dict[str, Any]:
    """Turn ``SemanticCache.clear`` / ``entries`` keyword arguments into backend filters.

    Ids become digests; ``tags`` (entries carrying any of them) stays a sorted tuple.

    Raises:
        TokenOptConfigError: an unknown keyword, ``user_id`` without ``tenant_id``, or
            ``tags`` that is empty or not a list of tag strings.
    """
    allowed = {"tenant_id", "user_id", "model", "llm_string", "tags"}
    unknown = set(kwargs) - allowed
    if unknown:
        msg = f"{action}() accepts {sorted(allowed)}, got {sorted(unknown)}"
        raise TokenOptConfigError(msg)
    tenant_id, user_id = kwargs.get("tenant_id"), kwargs.get("user_id")
    if user_id is not None and tenant_id is None:
        msg = f"{action}(user_id=...) needs tenant_id too (a user lives inside a tenant)"
        raise TokenOptConfigError(msg)
    filters: dict[str, Any] = {}
    if kwargs.get("tags") is not None:
        tags = check_tags(kwargs["tags"])
        if not tags:
            msg = f"{action}(tags=[]) names no tag; leave tags out to match every entry"
            raise TokenOptConfigError(msg)
        filters["tags"] = tags
    if tenant_id is not None:
        filters["tenant"] = digest("tenant", tenant_id)
        if user_id is not None:
            filters["user"] = digest("user", tenant_id, user_id)
    if kwargs.get("model") is not None:
        filters["model_name"] = digest("model_name", str(kwargs["model"]))
    if kwargs.get("llm_string") is not None:
        filters["model"] = parse_llm_string(str(kwargs["llm_string"])).model
    return filters


def check_entry_id(entry_id: object) -> str:
    """Return ``entry_id`` if it is a 32-hex id, else raise :class:`TokenOptConfigError`."""
    if (
        not isinstance(entry_id, str)
        or len(entry_id) != 32
        or not all(c in "0123456789abcdef" for c in entry_id)
    ):
        msg = f"entry_id must be a 32-character hex id (CacheHit.entry_id), got {entry_id!r}"
        raise TokenOptConfigError(msg)
    return entry_id
