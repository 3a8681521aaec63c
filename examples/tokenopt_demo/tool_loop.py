"""The demo agent's tool loop: the workload's expected calls, played when their tools are bound.

SmolLM2-135M cannot call tools, so the demo's model is :class:`WorkloadToolModel`: on each
model call of a turn it records what the graph sent (the bound tools and the request text),
then plays what a capable agent would do with exactly that request:

* a tool the question needs (``expected_tools``) that is bound and not yet called this turn
  is called, with the arguments the workload states (``expected_args``);
* needed tools that are not bound are searched for first, with ``find_tools`` (one call per
  missing tool, all in one message, once per turn) when ``find_tools`` is bound: the query is
  the first sentence of the missing tool's description, what an agent that knows what it
  lacks asks for (as ``python -m bench agent`` does), or the question's words when the
  description is unknown;
* otherwise the wrapped model (SmolLM2) writes the answer, from the tool results if any,
  or without the tool it could not reach (the starved case the cache then stores).

The tools are :func:`stub_tools`: the workload's schemas, executed by the graph's tool node,
each returning a short JSON echo. So every turn runs the real graph loop, and the cache's
store rule (:mod:`langchain_tokenopt.cache.tool_policy`) sees real tool calls.

Example:
    .. code-block:: python

        from examples.tokenopt_demo.tool_loop import CallLog, WorkloadToolModel, stub_tools
        from langchain_tokenopt.llms import LocalChatModel

        log = CallLog()
        model = WorkloadToolModel(inner=LocalChatModel(), log=log)
        tools = stub_tools(workload)
        log.start(workload.question("q09"))  # then graph.invoke(...); log.calls holds each call
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from langchain_tokenopt.tokens import get_token_counter

from .workload import Workload, WorkloadQuestion

__all__ = [
    "FIND_TOOLS",
    "CallLog",
    "ModelCall",
    "WorkloadToolModel",
    "first_sentence",
    "request_text",
    "scripted_calls",
    "stub_tools",
]

#: Name of the optimizer's meta-tool that loads tool schemas.
FIND_TOOLS = "find_tools"


@dataclass(frozen=True)
class ModelCall:
    """One model call of a turn, as the model received it."""

    tools: tuple[str, ...]
    """Names of the tools bound on the call, in the order the graph bound them."""
    text: str
    """The request's text (system prompt, messages and tool-call arguments), folded by
    :func:`request_text`."""
    tool_calls: tuple[str, ...]
    """The tools the model called in its reply (empty for an answer)."""


class CallLog:
    """The question being asked and the model calls recorded for it (one run at a time)."""

    def __init__(self, descriptions: Mapping[str, str] | None = None) -> None:
        self.question: WorkloadQuestion | None = None
        self.calls: list[ModelCall] = []
        self.descriptions: dict[str, str] = dict(descriptions or {})
        """Each catalog tool's description (what a ``find_tools`` query asks for)."""

    def start(self, question: WorkloadQuestion | None) -> None:
        """Begin a new question: forget the calls of the previous one."""
        self.question = question
        self.calls = []


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def request_text(messages: Sequence[BaseMessage]) -> str:
    """The text of a request, lower-cased and whitespace-folded, with tool-call arguments."""
    parts: list[str] = []
    for message in messages:
        parts.append(message.content if isinstance(message.content, str) else message.text)
        if isinstance(message, AIMessage):
            parts.extend(json.dumps(c["args"], ensure_ascii=False) for c in message.tool_calls)
    return _fold("\n".join(parts))


def _turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)


def first_sentence(text: str) -> str:
    """The first sentence of a tool description: what a ``find_tools`` call searches for."""
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def scripted_calls(
    question: WorkloadQuestion | None,
    messages: Sequence[BaseMessage],
    bound: Sequence[str],
    *,
    descriptions: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The tool calls the demo agent makes next (empty: it answers in text).

    Args:
        question: The workload question of this turn (``None``: no script, answer).
        messages: The request the model received; the turn is what follows its newest
            human message.
        bound: Names of the tools bound on this call.
        descriptions: Each catalog tool's description: the ``find_tools`` query for a
            missing tool is its first sentence (default: the question's words).
    """
    if question is None or not question.expected_tools:
        return []
    turn = _turn(messages)
    called = {c["name"] for m in turn if isinstance(m, AIMessage) for c in m.tool_calls}
    pending = [t for t in question.expected_tools if t not in called]
    ready = [t for t in pending if t in bound]
    missing = [t for t in pending if t not in bound]
    step = sum(isinstance(m, AIMessage) for m in turn)
    if missing and FIND_TOOLS in bound and FIND_TOOLS not in called:
        queries: dict[str, None] = {}
        for name in missing:  # one search per missing tool, in one message
            known = (descriptions or {}).get(name, "")
            queries[first_sentence(known) if known.strip() else question.text] = None
        return [
            {
                "name": FIND_TOOLS,
                "args": {"query": query},
                "id": f"call_{question.id}_{step}_find{n}",
            }
            for n, query in enumerate(queries)
        ]
    if ready:
        return [
            {
                "name": name,
                "args": json.loads(json.dumps(dict(question.expected_args.get(name, {})))),
                "id": f"call_{question.id}_{step}_{n}",
            }
            for n, name in enumerate(ready)
        ]
    return []


def _name(tool: Any) -> str:
    if isinstance(tool, dict):
        inner = tool.get("function", tool)
        return str(inner.get("name", ""))
    return str(getattr(tool, "name", getattr(tool, "__name__", "")))


class WorkloadToolModel(BaseChatModel):
    """A chat model that plays the workload's tool calls and lets ``inner`` write the answers.

    Example:
        .. code-block:: python

            model = WorkloadToolModel(inner=LocalChatModel(), log=CallLog())
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    """The model that writes the text answers (the demo's SmolLM2)."""
    log: CallLog
    """Where the current question is read and each call is recorded (shared by copies)."""
    bound: tuple[str, ...] = ()
    """Names of the tools bound by :meth:`bind_tools`."""
    schemas: tuple[dict[str, Any], ...] = ()
    """The bound tools' schemas (counted in each call's usage)."""

    @property
    def _llm_type(self) -> str:
        return "workload-tool-agent"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"agent": "workload-tool-agent", "inner": dict(self.inner._identifying_params)}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> WorkloadToolModel:
        """Record the names of the bound tools (the calls themselves are scripted)."""
        return self.model_copy(
            update={
                "bound": tuple(_name(t) for t in tools),
                "schemas": tuple(convert_to_openai_tool(t) for t in tools),
            }
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        calls = scripted_calls(
            self.log.question, messages, self.bound, descriptions=self.log.descriptions
        )
        if calls:
            reply: BaseMessage = AIMessage("", tool_calls=calls)
        else:
            # No callbacks: the monitor records this call once, as the wrapper's.
            reply = self.inner.invoke(messages, {"callbacks": []}, stop=stop)
        # The usage a hosted model would report for this request: every message and the
        # bound schemas, counted as the demo counts them (o200k), so `tokenopt stats` and
        # the dashboard show the demo's own figures; SmolLM2 itself reads neither the
        # schemas nor more than its last 2,048 tokens.
        counter = get_token_counter()
        sent = counter.count_messages(messages) + (
            counter.count_tools(list(self.schemas)) if self.schemas else 0
        )
        own = getattr(reply, "usage_metadata", None) or {}
        output = int(own["output_tokens"]) if own else counter.count_messages([reply])
        reply = AIMessage(
            content=reply.content,
            tool_calls=list(calls),
            response_metadata=dict(getattr(reply, "response_metadata", {}) or {}),
            usage_metadata=UsageMetadata(
                input_tokens=sent, output_tokens=output, total_tokens=sent + output
            ),
        )
        self.log.calls.append(
            ModelCall(
                tools=self.bound,
                text=request_text(messages),
                tool_calls=tuple(c["name"] for c in calls),
            )
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _echo(name: str) -> Any:
    def run(**kwargs: Any) -> str:
        return json.dumps({"tool": name, "status": "ok", "arguments": kwargs})

    return run


def stub_tools(workload: Workload) -> list[BaseTool]:
    """The workload's schemas as tools the graph can run; each returns a short JSON echo."""
    return [
        StructuredTool.from_function(
            func=_echo(str(schema["function"]["name"])),
            name=str(schema["function"]["name"]),
            description=str(schema["function"].get("description") or schema["function"]["name"]),
            args_schema=schema["function"]["parameters"],
        )
        for schema in workload.tools
    ]
