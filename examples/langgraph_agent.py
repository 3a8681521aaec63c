"""The optimized LangGraph agent from the factory, with a checkpointer you choose.

Run: ``.venv/bin/python examples/langgraph_agent.py`` (offline; uses the local SmolLM2).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from langchain_tokenopt import SemanticCache, TokenOptCallbackHandler, build_optimized_agent
from langchain_tokenopt.cache import LocalBackend
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import MemoryMetricsStore


@tool
def get_order_status(order_id: str) -> str:
    """Return the shipping status of an order by its id (for example A-1001)."""
    return f"Order {order_id} shipped on 2026-11-20 and arrives on 2026-11-27."


@tool
def get_store_hours(city: str) -> str:
    """Return the opening hours of the store in a city."""
    return f"The {city} store opens 9:00-18:00, Monday to Saturday."


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tokenopt-example-"))
    monitor = TokenOptCallbackHandler(store=MemoryMetricsStore())
    graph = build_optimized_agent(
        LocalChatModel(max_new_tokens=32),
        [get_order_status, get_store_hours],
        system_prompt="You are the support assistant of an outdoor-gear shop. Be brief.",
        cache=SemanticCache(backend=LocalBackend(path=folder / "cache.sqlite")),
        monitor=monitor,
    ).compile(checkpointer=InMemorySaver())

    turns = [
        ("t1", "acme", "What time does the Denver store open?"),
        ("t2", "acme", "What time does the Denver store open?"),  # exact repeat: cache hit
        ("t3", "globex", "What time does the Denver store open?"),  # other tenant: miss
    ]
    for thread, tenant, question in turns:
        config = {"configurable": {"thread_id": thread}, "metadata": {"tenant_id": tenant}}
        start = time.perf_counter()
        state = graph.invoke({"messages": [("user", question)]}, config)
        ms = (time.perf_counter() - start) * 1000
        hit = state["turn"].get("cache_hit")
        print(f"{ms:9.1f} ms  hit={hit!s:5}  {tenant:6}  {state['messages'][-1].content!r}")
    summary = monitor.summary(window=None)
    print(f"requests={summary.requests}")


if __name__ == "__main__":
    main()
