"""The response-cache steps of one request: its typed key, the lookup and the final store.

The key describes the *unoptimized* request (full system prompt, whole conversation, the
model's identity and the whole tool catalog), so the optimizations that follow never change
which entry a question maps to. The lookup runs as a measured :class:`~.step.Step`; the
store never raises and stores a turn only when its tools allow it
(:mod:`~langchain_tokenopt.cache.tool_policy`).

Example:
    .. code-block:: python

        key = request_key(serialize_request(system, messages), identity=identity, ...)
        answer, layer = cache_result(run_step(recorder, lookup_step(cache, key, before=900)))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration

from langchain_tokenopt.cache.keys import ModelIdentity, RequestKey
from langchain_tokenopt.cache.scope import CallerScope
from langchain_tokenopt.cache.tool_policy import context_free_tools, turn_store_decision
from langchain_tokenopt.graph.step import Step
from langchain_tokenopt.protocols import CacheAnswer, CacheLayer, ResponseCache

logger = logging.getLogger(__name__)

__all__ = [
    "CacheStore",
    "astore_answer",
    "cache_result",
    "lookup_step",
    "model_identity",
    "request_key",
    "serialize_request",
    "store_answer",
    "store_plan",
]

#: Model fields that never change the answer (or must not be read): left out of its identity.
_NOT_IDENTITY = frozenset(
    {
        "callbacks",
        "callback_manager",
        "cache",
        "verbose",
        "tags",
        "metadata",
        "rate_limiter",
        # how fast, not what: CPU threads and prefix-cache reuse never change the answer
        "num_threads",
        "reuse_prefix",
    }
)


def model_identity(model: BaseChatModel) -> dict[str, Any]:
    """Describe a chat model by its class and its plain public settings.

    Only scalar fields (and flat lists / dicts of scalars) are read, one attribute at a
    time: serializing the whole model could consume iterators or touch clients. Secrets,
    callbacks and the model's own cache are left out; what remains (model name,
    temperature, max tokens ...) is what changes the answer.

    Example:
        .. code-block:: python

            model_identity(llm)  # {"class": "...ChatOpenAI", "kwargs": {"model_name": ...}}
    """
    settings: dict[str, Any] = {}
    for name in sorted(type(model).model_fields):
        lowered = name.lower()
        if name in _NOT_IDENTITY or "key" in lowered or "secret" in lowered or lowered == "token":
            continue
        value = getattr(model, name, None)
        if _plain(value):
            settings[name] = value
    cls = type(model)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "kwargs": settings}


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(v is None or isinstance(v, str | int | float | bool) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items()) and not any(
            isinstance(v, dict) for v in value.values()
        )
    return False


def serialize_request(system: str, messages: Sequence[BaseMessage]) -> str:
    """The serialized unoptimized request: the full system prompt and the whole conversation.

    Message ids are generated per run: left in, no plain ``BaseCache`` would ever match a
    repeated turn (``SemanticCache`` ignores them on its own), so they are dropped.
    """
    head = [SystemMessage(system)] if system else []
    bare = [m.model_copy(update={"id": None}) if m.id else m for m in messages]
    return dumps([*head, *bare])


def request_key(
    prompt: str,
    *,
    identity: ModelIdentity,
    cacheable_ttls: Mapping[str, float],
    scope: Mapping[str, str] | None = None,
) -> RequestKey:
    """The typed key of a serialized request, confined to ``scope``'s tenant / user ids."""
    ids = {k: v for k, v in (scope or {}).items() if isinstance(v, str) and v}
    caller = (
        CallerScope(tenant_id=ids.get("tenant_id"), user_id=ids.get("user_id")) if ids else None
    )
    return RequestKey(
        prompt=prompt,
        model=identity,
        caller=caller,
        cacheable_tools=context_free_tools(cacheable_ttls),
    )


def lookup_step(cache: ResponseCache, key: RequestKey, *, before: int) -> Step[CacheAnswer]:
    """The measured lookup of ``key``: a hit sends 0 tokens to the model, a miss ``before``."""
    extra: dict[str, Callable[[CacheAnswer], Any]] = {
        "cache_hit": lambda a: bool(a.generations),
        "cache_layer": lambda a: a.layer if a.generations else None,
    }
    return Step(
        "cache",
        CacheAnswer(),
        before=before,
        measure=lambda a: 0 if a.generations else before,
        work=lambda: cache.lookup_request(key),
        awork=lambda: cache.alookup_request(key),
        extra=extra,
    )


def cache_result(answer: CacheAnswer) -> tuple[AIMessage | None, CacheLayer | None]:
    """``(answer message, layer)`` of a lookup, ``(None, None)`` on a miss."""
    if not answer.generations:
        return None, None
    generation = answer.generations[0]
    if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
        return generation.message, answer.layer
    return AIMessage(content=generation.text), answer.layer


@dataclass(frozen=True)
class CacheStore:
    """One response-cache store: the cache, the key, the answer and its lifetime."""

    cache: ResponseCache
    """Where the answer goes."""
    key: RequestKey
    """The key of the turn's unoptimized request."""
    generations: list[ChatGeneration]
    """The final answer."""
    ttl: float | None
    """Its lifetime in seconds (the smallest of its cacheable tools'); ``None``: the cache's."""


def store_plan(
    cache: ResponseCache | None,
    key: RequestKey,
    answer: AIMessage,
    messages: Sequence[BaseMessage],
    cacheable_ttls: Mapping[str, float],
) -> CacheStore | None:
    """The store of a turn's final answer, or ``None`` when the turn may not be stored."""
    if cache is None:
        return None
    decision = turn_store_decision(messages, cacheable_ttls)
    if not decision.store:
        logger.debug("tokenopt cache store skipped: %s", decision.reason)
        return None
    return CacheStore(cache, key, [ChatGeneration(message=answer)], decision.ttl)


def store_answer(plan: CacheStore | None) -> bool:
    """Run a store plan; never raises. Returns whether the answer was stored."""
    try:
        return plan is not None and _stored(
            plan.cache.update_request(plan.key, plan.generations, ttl=plan.ttl)
        )
    except Exception as exc:  # noqa: BLE001 - fail open
        return _store_failed(exc)


async def astore_answer(plan: CacheStore | None) -> bool:
    """Async :func:`store_answer`: awaits the cache's ``aupdate_request``."""
    try:
        return plan is not None and _stored(
            await plan.cache.aupdate_request(plan.key, plan.generations, ttl=plan.ttl)
        )
    except Exception as exc:  # noqa: BLE001 - fail open
        return _store_failed(exc)


def _stored(stored: bool) -> bool:
    if not stored:
        logger.debug("tokenopt cache store skipped: the cache has no per-entry TTL")
    return stored


def _store_failed(exc: Exception) -> bool:
    logger.warning("tokenopt cache store failed (%s)", type(exc).__name__)
    return False
