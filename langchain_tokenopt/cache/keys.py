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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_tokenopt._content import text_blocks
from langchain_tokenopt.cache.canonical import canonical_text
from langchain_tokenopt.cache.scope import CallerScope, check_tags
from langchain_tokenopt.cache.standalone import HistoryPolicy, StandalonePolicy
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "CacheKey",
    "ModelIdentity",
    "RequestKey",
    "build_key",
    "build_request_key",
    "check_entry_id",
    "clear_filters",
    "digest",
    "normalize_text",
    "model_identity_of",
    "parse_llm_string",
]

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
    return _identity(serialized, params)


def model_identity_of(
    model: Mapping[str, Any], *, tools: Sequence[str] = (), stop: Sequence[str] | None = None
) -> ModelIdentity:
    """Build the :class:`ModelIdentity` of a model described by its plain settings.

    The typed counterpart of :func:`parse_llm_string`: ``model`` is what LangChain would
    serialize (``{"class": ..., "kwargs": {...}}``), ``tools`` the JSON schemas of the tools
    bound, ``stop`` the stop sequences. The same model and tools give the same identity as
    the ``llm_string`` LangChain would build for them.

    Example:
        .. code-block:: python

            identity = model_identity_of(
                {"class": "ChatOpenAI", "kwargs": {"model_name": "gpt-4o", "temperature": 0}}
            )
            identity.model_name  # "gpt-4o"
    """
    return _identity(
        dict(model), {"stop": None if stop is None else list(stop), "tools": list(tools)}
    )


def _identity(serialized: Any, params: Any) -> ModelIdentity:
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
    history_tools: tuple[str, ...] = ()
    """The tools the turns before the question called or hold results of (``""``: a result
    whose tool is not named)."""
    after_question: bool = False
    """Whether messages follow the newest human message (tool calls of the current turn)."""


def _content_text(content: Any) -> tuple[str, bool]:
    """Return (text, text_only) for message content (str or content blocks)."""
    if isinstance(content, str | list):
        texts, text_only = text_blocks(content)
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


def _history_tools(others: Sequence[tuple[str, dict[str, Any]]]) -> tuple[str, ...]:
    """Names of the tools called (or answered) in ``others`` (``""``: an unknown call)."""
    names: dict[str, None] = {}
    by_id: dict[str, str] = {}
    for kind, kwargs in others:
        if kind != "ai":
            continue
        calls = [*(kwargs.get("tool_calls") or []), *(kwargs.get("invalid_tool_calls") or [])]
        for call in calls:
            name = str(call.get("name") or "") if isinstance(call, dict) else ""
            names.setdefault(name, None)
            if isinstance(call, dict) and call.get("id"):
                by_id[str(call["id"])] = name
        for call in (kwargs.get("additional_kwargs") or {}).get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            raw = function.get("name") if isinstance(function, dict) else None
            names.setdefault(str(raw or ""), None)
    for kind, kwargs in others:
        if kind in ("tool", "function"):
            call_id = str(kwargs.get("tool_call_id") or "")
            names.setdefault(str(kwargs.get("name") or by_id.get(call_id, "")), None)
    return tuple(names)


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
    before = [(k, _canonical(m)) for m, k in zip(messages[:human], kinds[:human], strict=True)]
    after = any(k != "system" for k in kinds[human + 1 :])
    text, text_only = _content_text((messages[human].get("kwargs") or {}).get("content", ""))
    extra = {k: v for k, v in _canonical(messages[human]).items() if k not in ("content", "type")}
    return ParsedPrompt(
        query_text=text,
        embeddable=text_only,
        system=digest("system", systems) if systems else "",
        history=digest("history", others, marker, extra) if (others or extra) else "",
        tool_context=any(k == "tool" for k, _ in others),
        history_tools=_history_tools([(k, m) for k, m in before if k != "system"]),
        after_question=after,
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


@dataclass(frozen=True, kw_only=True)
class RequestKey:
    """The typed cache key of one agent request (what the graph hands the cache).

    LangChain's own calls reach the cache as ``lookup(prompt, llm_string)``; the optimized
    agent instead names the model and the caller directly, so no ``llm_string`` is built
    to be parsed back. The same request gives the same entry either way.

    Example:
        .. code-block:: python

            from langchain_core.load import dumps
            from langchain_tokenopt.cache.keys import RequestKey, model_identity_of

            key = RequestKey(
                prompt=dumps(messages),
                model=model_identity_of({"class": "ChatOpenAI", "kwargs": {"model": "gpt-4o"}}),
                caller=CallerScope(tenant_id="acme"),
            )
            cache.lookup_request(key)
    """

    prompt: str
    """The unoptimized messages, serialized with ``langchain_core.load.dumps`` (ids removed)."""
    model: ModelIdentity
    """The model and the tools bound (:func:`model_identity_of`)."""
    caller: CallerScope | None = field(default=None)
    """The tenant/user the request runs for; ``None`` reads the current
    :func:`~langchain_tokenopt.cache.cache_scope` (or the run's metadata)."""
    cacheable_tools: frozenset[str] = frozenset()
    """Tools declared cacheable for this request (:mod:`~langchain_tokenopt.cache.tool_policy`):
    under a standalone history policy, earlier turns that called only these do not keep the
    conversation in the scope (:meth:`~.standalone.StandalonePolicy.history_is_private`)."""

    @property
    def llm_string(self) -> str:
        """An opaque string naming the model and tools, for a plain LangChain ``BaseCache``."""
        return f"tokenopt-model:{self.model.model}|tools:{self.model.tools}"


def build_request_key(
    request: RequestKey, caller: CallerScope, *, history_policy: HistoryPolicy = "always"
) -> CacheKey:
    """Build the cache key of a typed request (as :func:`build_key` does for LangChain's).

    ``caller`` is used when the request names none (``request.caller is None``).
    """
    return _build(
        request.prompt,
        request.model,
        request.caller if request.caller is not None else caller,
        history_policy,
        request.cacheable_tools,
    )


def build_key(
    prompt: str,
    llm_string: str,
    caller: CallerScope,
    *,
    history_policy: HistoryPolicy = "always",
) -> CacheKey:
    """Build the cache key of one call (pure; see the module docstring).

    With ``history_policy="standalone"`` (or a
    :class:`~langchain_tokenopt.cache.standalone.StandalonePolicy`) the digest of earlier
    turns is left out of the scope when the newest question is self-contained
    (:meth:`~.standalone.StandalonePolicy.is_standalone`) and the earlier turns hold no tool
    results (a typed :class:`RequestKey` may name tools whose results do not count,
    ``cacheable_tools``), so a repeated standalone question hits across
    conversations of the same tenant/user/model/system prompt/tools. Dependent follow-ups
    keep their conversation in the scope either way.
    """
    return _build(prompt, parse_llm_string(llm_string), caller, history_policy)


def _policy(history_policy: HistoryPolicy) -> StandalonePolicy | None:
    if isinstance(history_policy, StandalonePolicy):
        return history_policy
    return StandalonePolicy.default() if history_policy == "standalone" else None


def _build(
    prompt: str,
    model: ModelIdentity,
    caller: CallerScope,
    history_policy: HistoryPolicy,
    cacheable_tools: frozenset[str] = frozenset(),
) -> CacheKey:
    parsed = parse_prompt(prompt)
    policy = _policy(history_policy)
    if (
        policy is not None
        and parsed.history
        and parsed.embeddable
        and not (
            parsed.tool_context
            and (
                parsed.after_question
                or policy.history_is_private(parsed.history_tools, cacheable_tools)
            )
        )
        and policy.is_standalone(parsed.query_text)
    ):
        parsed = ParsedPrompt(
            query_text=parsed.query_text,
            embeddable=parsed.embeddable,
            system=parsed.system,
            history="",
        )
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
