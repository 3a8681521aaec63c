"""The optimized LangGraph agent from the factory, with a checkpointer you choose.

Shows, for each model call of the agent: the tools the selector bound (out of the catalog),
the tool call the model made, and the prompt tokens before/after each optimizer step
(from the ``TokenOptCallbackHandler``'s records). Then an exact repeat is answered from the
response cache (``hit=True``, no model call) and another tenant's same question is not.

The model is scripted (SmolLM2 cannot call tools): asked about a store, it calls
``get_store_hours`` if that tool is bound, then answers with the tool's result.

Run: ``.venv/bin/python examples/langgraph_agent.py`` (offline).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tokenopt import SemanticCache, TokenOptCallbackHandler, build_optimized_agent
from langchain_tokenopt.cache import LocalBackend
from langchain_tokenopt.monitoring import MemoryMetricsStore


@tool
def get_order_status(order_id: str) -> str:
    """Return the shipping status of an order by its id (for example A-1001)."""
    return f"Order {order_id} shipped on 2026-11-20 and arrives on 2026-11-27."


@tool
def get_store_hours(city: str) -> str:
    """Return the opening hours of the store in a city."""
    return f"The {city} store opens 9:00-18:00, Monday to Saturday."


@tool
def start_return(order_id: str, reason: str) -> str:
    """Open a return for an order and email the customer a prepaid label."""
    return f"Return opened for {order_id}."


TOOLS = [get_order_status, get_store_hours, start_return]


class ScriptedToolModel(BaseChatModel):
    """Stands in for a tool-calling provider model; prints what each call receives."""

    bound: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:
        """Keep the names of the tools bound for this call."""
        return self.model_copy(update={"bound": tuple(t.name for t in tools)})

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        """Call ``get_store_hours`` for a store question if bound, then answer with its result."""
        last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        results = [m for m in messages[last_human:] if isinstance(m, ToolMessage)]
        question = messages[last_human].text.lower()
        reply = AIMessage(results[-1].text if results else "I can't look that up.")
        if not results and "store" in question and "get_store_hours" in self.bound:
            call = {"name": "get_store_hours", "args": {"city": "Denver"}, "id": "call-1"}
            reply = AIMessage("", tool_calls=[call])
        calls = [f"{c['name']}({c['args']})" for c in reply.tool_calls] or ["none: answers"]
        print(f"  model call: tools bound {list(self.bound)} -> tool call {calls[0]}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tokenopt-example-"))
    monitor = TokenOptCallbackHandler(store=MemoryMetricsStore())
    graph = build_optimized_agent(
        ScriptedToolModel(),
        TOOLS,
        system_prompt="You are the support assistant of an outdoor-gear shop. Be brief.",
        cache=SemanticCache(backend=LocalBackend(path=folder / "cache.sqlite")),
        monitor=monitor,
        token_model="gpt-4o",
        cacheable_tools={"get_store_hours": 3600},  # read-only: a turn using it may be cached
    ).compile(checkpointer=InMemorySaver())

    turns = [
        ("t1", "acme", "What time does the Denver store open?"),
        ("t2", "acme", "What time does the Denver store open?"),  # exact repeat: cache hit
        ("t3", "globex", "What time does the Denver store open?"),  # other tenant: miss
    ]
    print(f"catalog: {[t.name for t in TOOLS]}")
    seen = 0
    for thread, tenant, question in turns:
        print(f"{tenant} asks {question!r}")
        ids = {"thread_id": thread}
        config: RunnableConfig = {"configurable": ids, "metadata": {"tenant_id": tenant}}
        state = graph.invoke({"messages": [("user", question)]}, config)
        monitor.store.flush()
        records = monitor.store.records(window=None)
        for record in records[seen:]:
            steps = ", ".join(f"{s.step} {s.tokens_before}->{s.tokens_after}" for s in record.steps)
            print(f"  tokens per step: {steps}")
        seen = len(records)
        hit = state["turn"].get("cache_hit")
        print(f"  hit={hit!s:5}  {tenant:6}  {state['messages'][-1].content!r}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
