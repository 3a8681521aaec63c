"""Who is asking: the tenant/user part of the cache scope, as a context variable.

The scope decides which entries a lookup may ever see. Tenant and user come from, in order:

1. the innermost ``with cache_scope(tenant_id=..., user_id=...):`` block;
2. the ``tenant_id`` / ``user_id`` keys of ``metadata`` in the ``RunnableConfig`` that
   LangChain has made current for the call (``var_child_runnable_config``), when the model
   runs inside a chain, a LangGraph node or a tool. LangChain does not hand the config of a
   bare ``model.invoke(..., config=...)`` to the cache: wrap such calls in ``cache_scope``;
3. nothing (the shared, anonymous scope).

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import cache_scope

        with cache_scope(tenant_id="acme", user_id="u1"):
            chat_model.invoke("What is our refund policy?")  # cached for acme/u1 only
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["CallerScope", "cache_scope", "current_caller_scope"]


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


def _from_runnable_config() -> CallerScope | None:
    try:
        from langchain_core.runnables.config import var_child_runnable_config
    except ImportError:  # pragma: no cover - very old langchain-core
        return None
    config = var_child_runnable_config.get()
    if not config:
        return None
    metadata = config.get("metadata") or {}
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
