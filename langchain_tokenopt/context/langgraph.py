"""Use the optimizer inside LangGraph: a node / pre-model hook.

:func:`context_hook` returns a runnable (sync and async) that reads the state's messages and

* by default writes the optimized view to a separate key (``llm_input_messages``, the key
  ``create_react_agent``'s ``pre_model_hook`` reads), so the full history stays in state;
* with ``rewrite=True`` replaces the state's history by the optimized one, using
  ``RemoveMessage(REMOVE_ALL_MESSAGES)`` followed by the kept messages.

Example:
    .. code-block:: python

        from langgraph.prebuilt import create_react_agent
        from langchain_tokenopt.context import ContextOptimizer, context_hook

        hook = context_hook(ContextOptimizer(max_tokens=3000))
        agent = create_react_agent(model, tools, pre_model_hook=hook)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.messages import BaseMessage, RemoveMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.graph.message import REMOVE_ALL_MESSAGES

from langchain_tokenopt.context.optimizer import ContextOptimizer
from langchain_tokenopt.errors import BudgetExceededError, TokenOptConfigError

__all__ = ["context_hook"]

logger = logging.getLogger(__name__)


def context_hook(
    optimizer: ContextOptimizer,
    *,
    messages_key: str = "messages",
    output_key: str = "llm_input_messages",
    rewrite: bool = False,
    on_budget_exceeded: Literal["raise", "pass_through"] = "raise",
) -> Runnable[Any, dict[str, Any]]:
    """Build a LangGraph node / ``pre_model_hook`` that optimizes the state's history.

    Args:
        optimizer: The configured optimizer.
        messages_key: State key holding the full history.
        output_key: State key receiving the optimized view (when not ``rewrite``).
        rewrite: Replace the history in state (``RemoveMessage(REMOVE_ALL_MESSAGES)``)
            instead of writing a separate key.
        on_budget_exceeded: ``"raise"`` the :class:`BudgetExceededError` (default, never
            silent) or ``"pass_through"`` the full history with a logged error.

    Returns:
        A runnable taking the state (mapping or object) and returning the state update.

    Example:
        .. code-block:: python

            graph.add_node("trim", context_hook(optimizer, rewrite=True))
    """
    if not isinstance(optimizer, ContextOptimizer):
        msg = f"optimizer must be a ContextOptimizer, got {type(optimizer).__name__}"
        raise TokenOptConfigError(msg)
    if on_budget_exceeded not in ("raise", "pass_through"):
        msg = f"on_budget_exceeded must be 'raise' or 'pass_through', got {on_budget_exceeded!r}"
        raise TokenOptConfigError(msg)
    if not messages_key or not output_key:
        msg = "messages_key and output_key must be non-empty strings"
        raise TokenOptConfigError(msg)

    def update(messages: list[BaseMessage]) -> dict[str, Any]:
        if rewrite:
            return {messages_key: [RemoveMessage(id=REMOVE_ALL_MESSAGES), *messages]}
        return {output_key: messages}

    def handle(state: Any, error: BudgetExceededError) -> dict[str, Any]:
        if on_budget_exceeded == "raise":
            raise error
        logger.error("history over budget; passing it through unoptimized: %s", error)
        return {} if rewrite else {output_key: _messages(state, messages_key)}

    def run(state: Any) -> dict[str, Any]:
        try:
            return update(optimizer.optimize(_messages(state, messages_key)).messages)
        except BudgetExceededError as err:
            return handle(state, err)

    async def arun(state: Any) -> dict[str, Any]:
        try:
            result = await optimizer.aoptimize(_messages(state, messages_key))
        except BudgetExceededError as err:
            return handle(state, err)
        return update(result.messages)

    return RunnableLambda(run, afunc=arun, name="context_optimizer")


def _messages(state: Any, key: str) -> list[BaseMessage]:
    value = state.get(key) if isinstance(state, Mapping) else getattr(state, key, None)
    if value is None:
        msg = f"the graph state has no {key!r} messages"
        raise TokenOptConfigError(msg)
    return list(value)
