"""The optimized agent as a deployable LangGraph graph (mapped in ``langgraph.json``).

Serve it with LangGraph's own tooling (``langgraph dev`` / ``langgraph up``). The model is the
local SmolLM2 so the module runs offline; replace ``LocalChatModel()`` with your chat model
and pass your tools and system prompt.
"""

from __future__ import annotations

from langchain_tokenopt import build_optimized_agent
from langchain_tokenopt.llms import LocalChatModel

graph = build_optimized_agent(
    LocalChatModel(max_new_tokens=128),
    tools=[],
    system_prompt="You are a helpful, concise assistant.",
).compile()
