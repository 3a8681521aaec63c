"""``python -m bench tools llm-selector``: the token cost of LangChain's LLM tool selector.

LangChain's ``LLMToolSelectorMiddleware``: before every model call it asks a model to pick the
tools, sending the system prompt, the last user message and a structured-output schema in which
every tool of the catalog is a literal with its description. Its selection quality needs a
capable chat model (none runs offline here); its token cost does not. Counted on both catalogs'
test questions (cl100k) -> ``bench/results/tools_llm_selector_tokens.json``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np
from rich.console import Console

from bench.common import write_json
from bench.tools.data import load_bfcl, load_metatool
from langchain_tokenopt.tokens import TokenCounter


@dataclass(frozen=True)
class _NamedTool:
    """Just what the middleware's schema builder reads of a tool."""

    name: str
    description: str


def llm_selector_tokens(
    catalog: list[dict], questions: list[str], counter: TokenCounter, max_tools: int = 5
) -> dict:
    """Input tokens of the middleware's extra selection call, per question (mean and max).

    Built by the middleware's own request preparation and schema builder (private helpers of
    ``langchain.agents.middleware.tool_selection``, called here because the request is only
    assembled inside ``wrap_model_call``; no model is called). The schema is counted as its
    JSON text, the way :meth:`TokenCounter.count_tool` counts a tool schema.
    """
    from langchain.agents.middleware import tool_selection as selector
    from langchain.agents.middleware.types import ModelRequest
    from langchain_core.messages import HumanMessage, SystemMessage

    tools = [_NamedTool(t["name"], t.get("description") or "") for t in catalog]
    schema = selector._create_tool_selection_response(tools).json_schema()  # type: ignore[arg-type]
    schema_tokens = counter.count(json.dumps(schema, ensure_ascii=False))
    middleware = selector.LLMToolSelectorMiddleware(max_tools=max_tools)
    calls = []
    for q in questions:
        request = ModelRequest(model=None, messages=[HumanMessage(q)], tools=tools)  # type: ignore[arg-type]
        prepared = middleware._prepare_selection_request(request)
        assert prepared is not None
        message = SystemMessage(prepared.system_message)
        calls.append(schema_tokens + counter.count_messages([message, prepared.last_user_message]))
    return {
        "tools": len(tools),
        "schema_tokens": schema_tokens,
        "selection_call_input_tokens_mean": round(float(np.mean(calls)), 1),
        "selection_call_input_tokens_max": int(max(calls)),
        "catalog_tool_schema_tokens": counter.count_tools(
            [{"type": "function", "function": t} for t in catalog]
        ),
    }


def run(args: argparse.Namespace) -> None:
    """The middleware's selection-call tokens on both catalogs' test questions (cl100k)."""
    console = Console()
    counter = TokenCounter("gpt-4", encoding="cl100k_base")
    bfcl_cat, bfcl_q, _ = load_bfcl(args.data)
    mt_cat, mt_single, _ = load_metatool(args.data)
    out = {
        "bfcl": llm_selector_tokens(bfcl_cat, [q.text for q in bfcl_q if q.test], counter),
        "metatool": llm_selector_tokens(mt_cat, [q.text for q in mt_single if q.test], counter),
        "note": (
            "input tokens of LangChain LLMToolSelectorMiddleware's selection call (one extra "
            "model call before every model call); ours adds no model call"
        ),
    }
    console.print(out)
    target = write_json(args.results / "tools_llm_selector_tokens.json", out)
    console.print(f"wrote {target}")
