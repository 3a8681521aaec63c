"""Who is asking, and how long its answers live: the cache's context variables.

**Scope.**
The scope decides which entries a lookup may ever see. Tenant and user come from, in order:

1. the innermost ``with cache_scope(tenant_id=..., user_id=...):`` block;
2. the ``tenant_id`` / ``user_id`` keys of ``metadata`` in the ``RunnableConfig`` that
   LangChain has made current for the call (``var_child_runnable_config``), when the model
   runs inside a chain, a LangGraph node or a tool. LangChain does not hand the config of a
   bare ``model.invoke(..., config=...)`` to the cache: wrap such calls in ``cache_scope``;
3. nothing (the shared, anonymous scope).

**Entry options.** LangChain calls ``BaseCache.update`` with no extra arguments, so the
lifetime and tags of the entries a call writes come from, merged:

1. the ``ttl=`` / ``tags=`` arguments of ``SemanticCache.update`` when called directly;
2. ``with cache_entry_options(ttl=..., tags=[...]):`` blocks (the innermost ``ttl`` wins;
   tags of nested blocks add up);
3. the ``cache_ttl`` / ``cache_tags`` keys of the current ``RunnableConfig`` ``metadata``
   (same rule as ``tenant_id`` above);
4. the cache's own ``SemanticCache(ttl=...)``.

A ``ttl`` is taken from the first source that gives one; tags from all of them.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import cache_entry_options, cache_scope

        with cache_scope(tenant_id="acme", user_id="u1"):
            chat_model.invoke("What is our refund policy?")  # cached for acme/u1 only
        with cache_entry_options(ttl=600, tags=["pricing"]):
            chat_model.invoke("How much is the pro plan?")  # lives 10 min, tagged "pricing"
        chain.invoke(question, config={"metadata": {"cache_ttl": 600, "cache_tags": ["faq"]}})
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "CallerScope",
    "EntryOptions",
    "cache_entry_options",
    "cache_scope",
    "check_tags",
    "check_ttl",
    "current_caller_scope",
    "current_entry_options",
]

logger = logging.getLogger(__name__)
_MAX_TAG_CHARS = 200


@dataclass(frozen=True)
class CallerScope:
    """The tenant and user a cache call runs for."""

    tenant_id: str | None = None
    """Tenant (organisation, workspace); ``None`` is the shared scope."""
    user_id: str | None = None
    """User inside the tenant; ``None`` shares entries across the tenant's users."""


_scope_var: contextvars.ContextVar[CallerScope | None] = contextvars.ContextVar(
    "langchain_tokenopt_cache_scope", default=None
)


def _check_id(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        msg = f"{name} must be a non-empty str or None, got {value!r}"
        raise TokenOptConfigError(msg)
    return value


@contextlib.contextmanager
def cache_scope(
    *, tenant_id: str | None = None, user_id: str | None = None
) -> Iterator[CallerScope]:
    """Run the block with cache lookups and updates confined to one tenant/user.

    Scopes nest; the innermost wins. Works across ``await`` and threads started with
    ``contextvars.copy_context`` (LangChain's executors copy the context).

    Args:
        tenant_id: Tenant identifier (any string; hashed before it reaches a backend).
        user_id: User identifier (any string; hashed before it reaches a backend).

    Yields:
        The active :class:`CallerScope`.

    Raises:
        TokenOptConfigError: an id is not a non-empty string.
    """
    scope = CallerScope(
        tenant_id=_check_id("tenant_id", tenant_id), user_id=_check_id("user_id", user_id)
    )
    token = _scope_var.set(scope)
    try:
        yield scope
    finally:
        _scope_var.reset(token)


def _run_metadata() -> Mapping[str, Any]:
    """The ``metadata`` of the LangChain run this call belongs to (empty outside a run)."""
    try:
        from langchain_core.runnables.config import var_child_runnable_config
    except ImportError:  # pragma: no cover - very old langchain-core
        return {}
    config = var_child_runnable_config.get()
    return (config.get("metadata") or {}) if config else {}


def _from_runnable_config() -> CallerScope | None:
    metadata = _run_metadata()
    tenant, user = metadata.get("tenant_id"), metadata.get("user_id")
    if tenant is None and user is None:
        return None
    return CallerScope(
        tenant_id=str(tenant) if tenant is not None else None,
        user_id=str(user) if user is not None else None,
    )


def current_caller_scope() -> CallerScope:
    """Return the tenant/user of the current call (see the module docstring for the order)."""
    scope = _scope_var.get()
    if scope is not None:
        return scope
    return _from_runnable_config() or CallerScope()


# ------------------------------------------------------------------ entry options


@dataclass(frozen=True)
class EntryOptions:
    """Lifetime and tags for the entries written in the current context."""

    ttl: float | None = None
    """Seconds an entry lives from its write; ``None`` leaves it to the next source."""
    tags: tuple[str, ...] = ()
    """Labels to invalidate entries by (``SemanticCache.clear(tags=[...])``)."""


_options_var: contextvars.ContextVar[EntryOptions | None] = contextvars.ContextVar(
    "langchain_tokenopt_cache_entry_options", default=None
)


def check_ttl(ttl: Any) -> float | None:
    """Return ``ttl`` as a float, or raise :class:`TokenOptConfigError` (``None`` passes)."""
    if ttl is None:
        return None
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not math.isfinite(ttl)
        or not ttl > 0
    ):
        msg = f"ttl must be a positive, finite number of seconds or None, got {ttl!r}"
        raise TokenOptConfigError(msg)
    return float(ttl)


def check_tags(tags: Any) -> tuple[str, ...]:
    """Return tags sorted and deduplicated, or raise :class:`TokenOptConfigError`.

    A tag is a non-empty string of at most 200 characters without control characters;
    ``tags`` is any iterable of them except a bare string (``["pricing"]``, not
    ``"pricing"``). ``None`` is no tags.
    """
    if tags is None:
        return ()
    if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
        msg = f"tags must be a list of strings such as ['pricing'], got {tags!r}"
        raise TokenOptConfigError(msg)
    out = set()
    for tag in tags:
        if (
            not isinstance(tag, str)
            or not tag
            or len(tag) > _MAX_TAG_CHARS
            or any(ord(c) < 32 or ord(c) == 127 for c in tag)
        ):
            msg = (
                "each tag must be a non-empty string of at most "
                f"{_MAX_TAG_CHARS} characters without control characters, got {tag!r}"
            )
            raise TokenOptConfigError(msg)
        out.add(tag)
    return tuple(sorted(out))


@contextlib.contextmanager
def cache_entry_options(
    *, ttl: float | None = None, tags: Iterable[str] | None = None
) -> Iterator[EntryOptions]:
    """Give the entries written in the block a lifetime and tags.

    The way to set them for calls LangChain makes (``BaseCache.update`` gets no extra
    arguments). Blocks nest: the innermost ``ttl`` wins, tags add up.

    Args:
        ttl: Seconds each entry lives from its write (``None``: the enclosing block's, the
            run's ``cache_ttl`` metadata, or the cache's ``ttl``).
        tags: Labels to invalidate the entries by later (``cache.clear(tags=["pricing"])``).

    Yields:
        The :class:`EntryOptions` in force inside the block.

    Raises:
        TokenOptConfigError: ``ttl`` is not a positive number, or a tag is not a non-empty
            string.

    Example:
        .. code-block:: python

            with cache_entry_options(ttl=600, tags=["pricing"]):
                chat_model.invoke("How much is the pro plan?")
    """
    outer = _options_var.get() or EntryOptions()
    ttl = check_ttl(ttl)
    options = EntryOptions(
        ttl=outer.ttl if ttl is None else ttl,
        tags=tuple(sorted(set(outer.tags) | set(check_tags(tags)))),
    )
    token = _options_var.set(options)
    try:
        yield options
    finally:
        _options_var.reset(token)


def _options_from_runnable_config() -> EntryOptions | None:
    metadata = _run_metadata()
    ttl, tags = metadata.get("cache_ttl"), metadata.get("cache_tags")
    if ttl is None and tags is None:
        return None
    try:
        return EntryOptions(ttl=check_ttl(ttl), tags=check_tags(tags))
    except TokenOptConfigError as exc:
        # inside LangChain's cache call: a bad value must not break the user's chain
        logger.warning("ignoring the run's cache_ttl / cache_tags metadata: %s", exc)
        return None


def current_entry_options() -> EntryOptions:
    """Return the lifetime and tags for an entry written now (see the module docstring).

    Invalid ``cache_ttl`` / ``cache_tags`` run metadata is logged and ignored.
    """
    block = _options_var.get()
    run = _options_from_runnable_config()
    if run is None:
        return block or EntryOptions()
    if block is None:
        return run
    return EntryOptions(
        ttl=block.ttl if block.ttl is not None else run.ttl,
        tags=tuple(sorted(set(block.tags) | set(run.tags))),
    )
