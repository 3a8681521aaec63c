"""Turn LangChain's ``(prompt, llm_string)`` into what is embedded and what must match.

LangChain hands a cache the prompt (for chat models ``langchain_core.load.dumps`` of the
message list, ids removed) and an ``llm_string`` (the serialized model plus the call's
parameters). From them we build:

* the **query text**: the newest human message only (the one thing that is embedded);
* the **scope**: digests of everything else that changes the answer and must match exactly:
  model identity (``llm_string`` minus volatile fields such as timeouts, retries, streaming),
  system prompt, earlier and later turns of the conversation, bound tool schemas and
  structured-output format, tenant and user;
* the **entry id**: a digest of scope + normalized prompt, the exact fast-path key.

All functions here are pure.

Example:
    .. code-block:: python

        key = build_key(prompt, llm_string, CallerScope(tenant_id="acme"))
        key.query_text, key.scope, key.entry_id
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from langchain_tokenopt.cache.scope import CallerScope
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

# Words that make a question lean on earlier turns: pronouns and demonstratives without their
# noun ("how old is he?"), ellipsis openers ("and the boots?", "what about ...") and
# references to earlier answers ("the other one", "same again"). Written by hand: no library
# detects context dependence offline, and a false "dependent" only costs a cache miss.
_DEPENDENT = re.compile(
    r"\b(it|its|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|"
    r"there|then|one|ones|former|latter|above|previous|same|else|other|another|also|too|"
    r"instead|again|earlier|before|first|second|third|last)\b"
    r"|^\W*(and|but|or|so|what about|how about|ok|okay|why|then)\b",
    re.IGNORECASE,
)


def is_standalone(text: str) -> bool:
    """Return whether a question reads as self-contained (no reference to earlier turns).

    Conservative: short questions (under four words) and any pronoun, demonstrative or
    ellipsis opener count as dependent.
    """
    words = re.findall(r"\w+", text)
    return len(words) >= 4 and _DEPENDENT.search(text) is None


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


def parse_llm_string(llm_string: str) -> ModelIdentity:
    """Read model identity, tools and temperature out of LangChain's ``llm_string``.

    Unparseable strings are kept whole (their digest is the identity), so two different
    strings never share a scope.
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
    """Digest of scope + normalized full prompt: the exact fast-path key."""
    model: ModelIdentity
    """Model identity read from ``llm_string``."""
    tenant: str
    """Digest of the tenant id."""
    user: str
    """Digest of tenant + user."""


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
    tenant = digest("tenant", caller.tenant_id)
    user = digest("user", caller.tenant_id, caller.user_id)
    scope = digest("scope", user, model.model, model.tools, parsed.system, parsed.history)
    query = normalize_text(parsed.query_text)
    exact_text = query if parsed.embeddable and query else normalize_text(prompt)
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


def clear_filters(kwargs: dict[str, Any]) -> dict[str, str | None]:
    """Turn ``SemanticCache.clear`` keyword arguments into backend digest filters.

    Raises:
        TokenOptConfigError: an unknown keyword, or ``user_id`` without ``tenant_id``.
    """
    allowed = {"tenant_id", "user_id", "model", "llm_string"}
    unknown = set(kwargs) - allowed
    if unknown:
        msg = f"clear() accepts {sorted(allowed)}, got {sorted(unknown)}"
        raise TokenOptConfigError(msg)
    tenant_id, user_id = kwargs.get("tenant_id"), kwargs.get("user_id")
    if user_id is not None and tenant_id is None:
        msg = "clear(user_id=...) needs tenant_id too (a user lives inside a tenant)"
        raise TokenOptConfigError(msg)
    filters: dict[str, str | None] = {}
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
