"""Read token usage from a LangChain model result, without double counting cached tokens.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring.usage import extract_usage

        usage, from_langchain_cache, response_metadata = extract_usage(llm_result)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.outputs import LLMResult

from langchain_tokenopt.monitoring.records import TokenUsage

__all__ = ["extract_usage"]


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def extract_usage(response: LLMResult) -> tuple[TokenUsage | None, bool, dict[str, Any]]:
    """Read usage from a model result.

    Sums ``usage_metadata`` over every generation (LangChain convention: cached tokens
    are *inside* ``input_tokens``); falls back to OpenAI-style ``llm_output["token_usage"]``.

    Args:
        response: What ``on_llm_end`` received.

    Returns:
        ``(usage or None, served_from_langchain_cache, response_metadata of the first message)``.
    """
    found = False
    cached = False
    totals = dict.fromkeys(("input", "output", "read", "write", "reasoning"), 0)
    meta: dict[str, Any] = {}
    for gens in response.generations:
        for gen in gens:
            message = getattr(gen, "message", None)
            if message is None:
                continue
            if not meta:
                meta = dict(getattr(message, "response_metadata", None) or {})
                meta.update(gen.generation_info or {})
            um = getattr(message, "usage_metadata", None)
            if not um:
                continue
            # langchain-core marks a response served from its BaseCache with total_cost=0.
            if um.get("total_cost") == 0:
                cached = True
            if "input_tokens" not in um and "output_tokens" not in um:
                continue
            found = True
            totals["input"] += _int(um.get("input_tokens"))
            totals["output"] += _int(um.get("output_tokens"))
            details = um.get("input_token_details") or {}
            totals["read"] += _int(details.get("cache_read"))
            totals["write"] += _int(details.get("cache_creation"))
            totals["reasoning"] += _int((um.get("output_token_details") or {}).get("reasoning"))
    if not found:
        raw = (response.llm_output or {}).get("token_usage") or (response.llm_output or {}).get(
            "usage"
        )
        if isinstance(raw, Mapping) and ("prompt_tokens" in raw or "input_tokens" in raw):
            found = True
            totals["input"] = _int(raw.get("prompt_tokens", raw.get("input_tokens")))
            totals["output"] = _int(raw.get("completion_tokens", raw.get("output_tokens")))
            totals["read"] = _int((raw.get("prompt_tokens_details") or {}).get("cached_tokens"))
            totals["reasoning"] = _int(
                (raw.get("completion_tokens_details") or {}).get("reasoning_tokens")
            )
    if not found:
        return None, cached, meta
    usage = TokenUsage(
        input_tokens=totals["input"],
        output_tokens=totals["output"],
        cache_read_tokens=min(totals["read"], totals["input"]),
        cache_creation_tokens=min(totals["write"], max(0, totals["input"] - totals["read"])),
        reasoning_tokens=min(totals["reasoning"], totals["output"]),
    )
    return usage, cached, meta
