"""Load the realistic agent workload shipped in ``examples/workload``.

The workload is data written for this project (see ``examples/workload/README.md``): the
modular system prompt of a customer-operations agent, 131 tool schemas, one long support
conversation with tool calls, and a stream of user questions across two tenants. The demo,
the end-to-end benchmark and tests load it with :func:`load_workload`.

Example:
    .. code-block:: python

        from examples.tokenopt_demo import load_workload

        workload = load_workload()          # finds examples/workload
        messages = [workload.system_message(), *workload.history]
        workload.questions[0].text          # 'Where is my replacement Helix tent right now?'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
)

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "WORKLOAD_ENV_VAR",
    "WORKLOAD_FILES",
    "PromptModule",
    "QuestionKind",
    "Workload",
    "WorkloadQuestion",
    "find_workload_dir",
    "load_workload",
]

QuestionKind = Literal["new", "exact_repeat", "paraphrase", "follow_up"]
_KINDS: frozenset[str] = frozenset({"new", "exact_repeat", "paraphrase", "follow_up"})

#: Files that make up a workload folder.
WORKLOAD_FILES: tuple[str, ...] = (
    "system_prompt.json",
    "tools.json",
    "history.json",
    "questions.json",
)
#: Environment variable that points at a workload folder (checked before the defaults).
WORKLOAD_ENV_VAR = "TOKENOPT_WORKLOAD_DIR"
_RELATIVE = Path("examples") / "workload"


def _no_args() -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PromptModule:
    """One named module of the modular system prompt.

    Example:
        .. code-block:: python

            core = load_workload().modules[0]
            core.name, core.always_include, core.cache_breakpoint  # ('core', True, True)
    """

    name: str
    """Stable module name (``core``, ``refund_policy``, ...)."""
    description: str
    """One line saying what the module covers; usable to match it against a query."""
    content: str
    """The module's prompt text."""
    always_include: bool
    """True when the module must be sent with every request (identity, hard rules)."""
    cache_breakpoint: bool = False
    """True when a provider prompt-cache breakpoint goes right after this module."""


@dataclass(frozen=True)
class WorkloadQuestion:
    """One user question of the workload's question stream.

    Example:
        .. code-block:: python

            q = load_workload().question("q06")
            q.kind, q.repeats, q.expect_cache_hit  # ('exact_repeat', 'q03', True)
    """

    id: str
    """Question id (``q01`` ...), in stream order."""
    tenant_id: str
    """Tenant that asks it (``acme`` or ``globex``); cache entries must never cross tenants."""
    user_id: str
    """User that asks it."""
    conversation_id: str
    """Conversation it belongs to; follow-ups only make sense inside it."""
    text: str
    """The user's message."""
    kind: QuestionKind
    """``new``, ``exact_repeat``, ``paraphrase`` or ``follow_up``."""
    repeats: str | None
    """Id of the earlier question with the same meaning (repeat, paraphrase) or the same words
    in another conversation (follow-up), else None."""
    follows: str | None
    """For a follow-up, the id of the question it builds on in its conversation, else None."""
    expected_tools: tuple[str, ...]
    """Tools a correct answer needs (empty when the system prompt alone answers it)."""
    expect_cache_hit: bool
    """True when a correct semantic cache should answer it: a repeat or paraphrase of a
    question asked earlier in the same tenant whose expected tools are all cacheable
    (:attr:`Workload.cacheable_tools`). Follow-ups, other tenants and repeats of questions
    that book, change or read live data must miss."""
    expected_args: Mapping[str, Mapping[str, Any]] = field(default_factory=_no_args)
    """``{tool: {argument: value}}`` of the expected calls, with the values the user's words
    or the conversation state (values only the session or a tool result knows are left
    out)."""


@dataclass(frozen=True)
class Workload:
    """The whole demo workload: system prompt, tools, history and question stream.

    Example:
        .. code-block:: python

            workload = load_workload()
            len(workload.tools), len(workload.history), len(workload.questions)
            workload.system_prompt[:40]  # 'You are Juniper, the customer-operations'
    """

    path: Path
    """Folder the workload was loaded from."""
    company: str
    """Fictional company the agent works for."""
    modules: tuple[PromptModule, ...]
    """System-prompt modules in prompt order."""
    separator: str
    """Text placed between modules when the prompt is assembled."""
    tools: tuple[dict[str, Any], ...]
    """OpenAI-style tool schemas (``{"type": "function", "function": {...}}``)."""
    tool_domains: Mapping[str, str]
    """Tool name to domain key (``orders``, ``billing``, ...)."""
    cacheable_tools: Mapping[str, float]
    """Read-only tools whose results may be served again, with their lifetime in seconds
    (``build_optimized_agent(cacheable_tools=...)``); every other tool's turn is not stored."""
    domain_titles: Mapping[str, str]
    """Domain key to a readable title."""
    history: tuple[BaseMessage, ...]
    """The long conversation as LangChain messages (no system message)."""
    history_tenant_id: str
    """Tenant of the history conversation."""
    history_user_id: str
    """User of the history conversation."""
    history_conversation_id: str
    """Conversation id of the history; some questions continue it."""
    facts: Mapping[str, Any]
    """Ids and decisions established in the history (order numbers, RMA, claim, ...)."""
    questions: tuple[WorkloadQuestion, ...]
    """The question stream, originals before their repeats."""

    @property
    def system_prompt(self) -> str:
        """All modules assembled into one system prompt."""
        return self.separator.join(m.content for m in self.modules)

    def system_message(self) -> SystemMessage:
        """Return the assembled system prompt as a :class:`SystemMessage`."""
        return SystemMessage(self.system_prompt)

    def question(self, question_id: str) -> WorkloadQuestion:
        """Return the question with this id.

        Raises:
            TokenOptConfigError: no question has this id.
        """
        for q in self.questions:
            if q.id == question_id:
                return q
        msg = f"no question {question_id!r} in the workload (ids q01..q{len(self.questions):02d})"
        raise TokenOptConfigError(msg)

    def tool_names(self) -> list[str]:
        """Names of all tools, in catalog order."""
        return [str(t["function"]["name"]) for t in self.tools]


def find_workload_dir(path: str | Path | None = None) -> Path:
    """Resolve the workload folder.

    With ``path``: that folder, or ``path/examples/workload`` when ``path`` is a repository root.
    Without: ``$TOKENOPT_WORKLOAD_DIR``, then ``examples/workload`` under the current directory
    or one of its parents, then the ``workload`` folder next to this package (``examples/``).

    Raises:
        TokenOptConfigError: no folder with the workload files was found.
    """
    if path is not None:
        base = Path(path).expanduser()
        for candidate in (base, base / _RELATIVE):
            if _is_workload(candidate):
                return candidate.resolve()
        msg = f"{base} is not a workload folder: expected the files {', '.join(WORKLOAD_FILES)}"
        raise TokenOptConfigError(msg)
    candidates: list[Path] = []
    env = os.environ.get(WORKLOAD_ENV_VAR)
    if env:
        candidates.append(Path(env).expanduser())
    cwd = Path.cwd()
    candidates += [p / _RELATIVE for p in (cwd, *cwd.parents)]
    candidates.append(Path(__file__).resolve().parent.parent / "workload")
    for candidate in candidates:
        if _is_workload(candidate):
            return candidate.resolve()
    msg = (
        "cannot find the demo workload (examples/workload): run from a checkout of "
        f"langchain-tokenopt, pass load_workload(path=...), or set {WORKLOAD_ENV_VAR}"
    )
    raise TokenOptConfigError(msg)


def load_workload(path: str | Path | None = None) -> Workload:
    """Load the workload files into typed records and LangChain messages.

    Args:
        path: Workload folder or repository root; ``None`` searches as
            :func:`find_workload_dir` describes.

    Raises:
        TokenOptConfigError: the folder is missing, a file is not valid JSON, or the content
            is inconsistent (unknown question kind, unanswered tool call, ...).
    """
    folder = find_workload_dir(path)
    prompt_doc = _read(folder, "system_prompt.json")
    tools_doc = _read(folder, "tools.json")
    history_doc = _read(folder, "history.json")
    questions_doc = _read(folder, "questions.json")
    try:
        modules = tuple(
            PromptModule(
                name=str(m["name"]),
                description=str(m["description"]),
                content=str(m["content"]),
                always_include=bool(m["always_include"]),
                cache_breakpoint=bool(m.get("cache_breakpoint", False)),
            )
            for m in prompt_doc["modules"]
        )
        tools = tuple(dict(t) for t in tools_doc["tools"])
        history = tuple(messages_from_dict(history_doc["messages"]))
        questions = tuple(_question(q) for q in questions_doc["questions"])
        workload = Workload(
            path=folder,
            company=str(prompt_doc.get("company", "")),
            modules=modules,
            separator=str(prompt_doc.get("separator", "\n\n")),
            tools=tools,
            tool_domains=MappingProxyType(dict(tools_doc.get("domain_of", {}))),
            cacheable_tools=MappingProxyType(
                {str(k): float(v) for k, v in dict(tools_doc.get("cacheable", {})).items()}
            ),
            domain_titles=MappingProxyType(dict(tools_doc.get("domains", {}))),
            history=history,
            history_tenant_id=str(history_doc["tenant_id"]),
            history_user_id=str(history_doc["user_id"]),
            history_conversation_id=str(history_doc["conversation_id"]),
            facts=MappingProxyType(dict(history_doc.get("facts", {}))),
            questions=questions,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TokenOptConfigError):
            raise
        msg = f"malformed workload in {folder}: {type(exc).__name__}: {exc}"
        raise TokenOptConfigError(msg) from exc
    problems = _check(workload)
    if problems:
        msg = f"inconsistent workload in {folder}: " + "; ".join(problems[:5])
        raise TokenOptConfigError(msg)
    return workload


def _is_workload(folder: Path) -> bool:
    return all((folder / name).is_file() for name in WORKLOAD_FILES)


def _read(folder: Path, name: str) -> dict[str, Any]:
    file = folder / name
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"cannot read workload file {file}: {exc}"
        raise TokenOptConfigError(msg) from exc
    if not isinstance(doc, dict):
        msg = f"workload file {file} must hold a JSON object, got {type(doc).__name__}"
        raise TokenOptConfigError(msg)
    return doc


def _question(raw: Mapping[str, Any]) -> WorkloadQuestion:
    kind = str(raw["kind"])
    if kind not in _KINDS:
        msg = f"question {raw.get('id')!r} has kind {kind!r}; allowed: {', '.join(sorted(_KINDS))}"
        raise TokenOptConfigError(msg)
    return WorkloadQuestion(
        id=str(raw["id"]),
        tenant_id=str(raw["tenant_id"]),
        user_id=str(raw["user_id"]),
        conversation_id=str(raw["conversation_id"]),
        text=str(raw["text"]),
        kind=kind,  # type: ignore[arg-type]
        repeats=raw.get("repeats"),
        follows=raw.get("follows"),
        expected_tools=tuple(str(t) for t in raw.get("expected_tools", [])),
        expected_args=MappingProxyType(
            {
                str(t): MappingProxyType(dict(a))
                for t, a in dict(raw.get("expected_args", {})).items()
            }
        ),
        expect_cache_hit=bool(raw.get("expect_cache_hit", False)),
    )


def _check(workload: Workload) -> list[str]:
    problems: list[str] = []
    names = workload.tool_names()
    if len(set(names)) != len(names):
        problems.append("tool names are not unique")
    known = set(names)
    calls: dict[str, str] = {}
    answered: set[str] = set()
    for message in workload.history:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                calls[str(call.get("id"))] = call["name"]
                if call["name"] not in known:
                    problems.append(f"history calls unknown tool {call['name']!r}")
        elif isinstance(message, ToolMessage):
            if message.tool_call_id not in calls:
                problems.append(f"tool result {message.tool_call_id!r} answers no earlier call")
            answered.add(message.tool_call_id)
        elif not isinstance(message, HumanMessage):
            problems.append(f"unexpected {message.type} message in the history")
    problems += [f"tool call {cid!r} has no result" for cid in calls if cid not in answered]
    for name, ttl in workload.cacheable_tools.items():
        if name not in known:
            problems.append(f"cacheable tool {name!r} is not in the catalog")
        if not ttl > 0:
            problems.append(f"cacheable tool {name!r} needs a positive lifetime, got {ttl!r}")
    seen: set[str] = set()
    for q in workload.questions:
        for ref in (q.repeats, q.follows):
            if ref is not None and ref not in seen:
                problems.append(f"question {q.id} refers to {ref!r}, which is not asked before it")
        for tool in q.expected_tools:
            if tool not in known:
                problems.append(f"question {q.id} expects unknown tool {tool!r}")
        for tool in q.expected_args:
            if tool not in q.expected_tools:
                problems.append(f"question {q.id} has arguments for unexpected tool {tool!r}")
        seen.add(q.id)
    return problems
