"""Small hand-made histories for the context tests (no dataset is loaded)."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

SYSTEM = SystemMessage("You are an airline agent. Follow the policy. " * 5, id="sys")


def call(call_id: str, name: str = "get_reservation_details", **args: object) -> dict:
    return {"id": call_id, "name": name, "args": args or {"reservation_id": call_id.upper()}}


def tool_result(call_id: str, size: int = 40, name: str = "get_reservation_details") -> ToolMessage:
    body = {"reservation_id": call_id.upper(), "flights": [f"HAT{100 + i}" for i in range(size)]}
    return ToolMessage(json.dumps(body), tool_call_id=call_id, name=name, id=f"t-{call_id}")


def conversation(turns: int = 6, size: int = 40) -> list[BaseMessage]:
    """System + ``turns`` x (human, AI tool call, tool result, AI answer)."""
    out: list[BaseMessage] = [SYSTEM]
    for i in range(turns):
        cid = f"c{i}"
        out.append(
            HumanMessage(f"Please check reservation RES{i:03d} for user mia_li_{i}", id=f"h{i}")
        )
        out.append(AIMessage("", tool_calls=[call(cid)], id=f"a{i}"))
        out.append(tool_result(cid, size))
        out.append(
            AIMessage(f"Reservation RES{i:03d} is confirmed for flight HAT{100 + i}.", id=f"r{i}")
        )
    return out
