"""Token breakdown of one agent request, per part, for several model families.

A request is what an agent's LLM node sends: the system prompt, the ``tools`` array, the
conversation history and the newest user question. :func:`request_breakdown` counts each part
with :class:`~langchain_tokenopt.tokens.TokenCounter` so that the parts add up exactly to the
tokens of the whole request (``count_messages(messages) + count_tools(tools)``):

* system prompt modules are counted incrementally (the tokens a module adds to the prompt
  assembled so far), so token merges across module boundaries are not double counted;
* chat-format framing (per-message overhead, role, name), reply priming and the ``tools`` array
  overhead are reported as their own rows.

Example:
    .. code-block:: python

        from examples.tokenopt_demo import compare_families, load_workload, render_breakdowns

        render_breakdowns(compare_families(load_workload()))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError
from langchain_tokenopt.tokens import (
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    TOOLS_ARRAY_OVERHEAD,
    TokenCounter,
    tool_schema_json,
)

from .workload import Workload, WorkloadQuestion

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "DEFAULT_FAMILIES",
    "BreakdownPart",
    "ModelFamily",
    "RequestBreakdown",
    "Section",
    "build_request",
    "compare_families",
    "render_breakdowns",
    "request_breakdown",
]

Section = Literal["system", "tools", "history", "question", "overhead"]
_SECTIONS: tuple[Section, ...] = ("system", "tools", "history", "question", "overhead")
_SECTION_TITLES: dict[str, str] = {
    "system": "System prompt",
    "tools": "Tool schemas",
    "history": "Conversation history",
    "question": "Newest question",
    "overhead": "Chat-format overhead",
}
#: What each later optimizer of the package targets, per section.
OPTIMIZER_TARGETS: dict[str, str] = {
    "system": "ModuleFitter (PromptAssembler + QueryAwareCompressor): send the always-on "
    "essentials (identity, safety rules) as a stable, cacheable prefix, then only the rules and "
    "policy sentences that answer the question",
    "tools": "ToolSelector: retrieve the handful of tools relevant to the turn instead of "
    "sending the whole catalog",
    "history": "ContextOptimizer: drop or summarise stale tool results and old turns, never "
    "splitting a tool call from its result",
    "question": "SemanticCache: answer exact repeats and paraphrases (same tenant) without "
    "calling the model at all",
}


@dataclass(frozen=True)
class ModelFamily:
    """A model family to count for, with how exact its count is.

    Example:
        .. code-block:: python

            ModelFamily("GPT-4o", "gpt-4o", exact=True, note="o200k_base")
    """

    label: str
    """Name shown in tables."""
    model: str
    """Model name given to :class:`TokenCounter` (it picks the encoding)."""
    exact: bool
    """True when the encoding is the model's own tokenizer."""
    note: str = ""
    """How the count relates to the model's real tokenizer."""
    encoding: str | None = None
    """The stand-in encoding of a model whose tokenizer is not shipped (``exact=False``);
    ``None`` lets :class:`TokenCounter` pick the model's own."""


#: GPT-4o (o200k_base, exact), GPT-4 (cl100k_base, exact), Claude Sonnet (documented stand-in).
DEFAULT_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("GPT-4o", "gpt-4o", exact=True, note="the model's own encoding, exact"),
    ModelFamily("GPT-4", "gpt-4", exact=True, note="the model's own encoding, exact"),
    ModelFamily(
        "Claude Sonnet",
        "claude-sonnet-4",
        exact=False,
        note="o200k_base stand-in; Claude's own tokenizer differs, expect about ±15 % on English",
        encoding="o200k_base",
    ),
)


@dataclass(frozen=True)
class BreakdownPart:
    """Tokens of one part of a request.

    Example:
        .. code-block:: python

            BreakdownPart(section="tools", name="Orders", tokens=1180, items=11)
    """

    section: Section
    """Which part of the request: system, tools, history, question or overhead."""
    name: str
    """Row label: module name, tool domain, message kind or overhead kind."""
    tokens: int
    """Tokens this part contributes to the request."""
    items: int = 1
    """How many modules, tools or messages the row covers."""


@dataclass(frozen=True)
class RequestBreakdown:
    """The token breakdown of one request for one model family.

    ``sum(p.tokens for p in parts) == total`` always holds.

    Example:
        .. code-block:: python

            b = request_breakdown(load_workload(), model="gpt-4o")
            b.section_totals()["history"], b.share("tools")
    """

    family: ModelFamily
    """The model family counted for."""
    encoding: str
    """Encoding actually used (``o200k_base`` or ``cl100k_base``)."""
    question_id: str | None
    """Id of the workload question sent as the newest message, if any."""
    parts: tuple[BreakdownPart, ...]
    """Every part, grouped by section in request order."""
    total: int
    """Tokens of the whole request (messages plus tools array)."""
    messages: int
    """Number of messages in the request, system and question included."""

    def section_totals(self) -> dict[str, int]:
        """Tokens per section, in request order."""
        totals: dict[str, int] = dict.fromkeys(_SECTIONS, 0)
        for part in self.parts:
            totals[part.section] += part.tokens
        return totals

    def share(self, section: str) -> float:
        """Fraction of the request taken by ``section`` (0 to 1)."""
        if section not in _SECTIONS:
            msg = f"section must be one of {', '.join(_SECTIONS)}, got {section!r}"
            raise TokenOptConfigError(msg)
        return self.section_totals()[section] / self.total if self.total else 0.0

    def rows(self, section: str) -> list[BreakdownPart]:
        """The parts of one section."""
        return [p for p in self.parts if p.section == section]


def build_request(
    workload: Workload, question: WorkloadQuestion | str | None = None
) -> tuple[list[BaseMessage], list[dict[str, Any]]]:
    """Return the ``(messages, tools)`` an unoptimized agent would send for a question.

    Messages are the assembled system prompt, the whole history and the question. ``question``
    is a :class:`WorkloadQuestion`, a question id, or ``None`` for the first question asked in
    the history's conversation.
    """
    q = _resolve_question(workload, question)
    messages: list[BaseMessage] = [workload.system_message(), *workload.history]
    if q is not None:
        messages.append(HumanMessage(q.text))
    return messages, list(workload.tools)


def request_breakdown(
    workload: Workload,
    *,
    model: str | ModelFamily = "gpt-4o",
    question: WorkloadQuestion | str | None = None,
) -> RequestBreakdown:
    """Count every part of the unoptimized request for one model family.

    Args:
        workload: The loaded workload.
        model: Model name or :class:`ModelFamily`; picks the encoding.
        question: Newest question (see :func:`build_request`).
    """
    family = model if isinstance(model, ModelFamily) else _family_for(model)
    counter = TokenCounter(family.model, encoding=family.encoding)
    q = _resolve_question(workload, question)
    parts: list[BreakdownPart] = []
    framing = 0
    framed_messages = 0

    # System prompt: tokens each module adds to the prompt assembled so far.
    system = workload.system_message()
    contents = [m.content for m in workload.modules]
    prefix_tokens = [
        counter.count(workload.separator.join(contents[: i + 1])) for i in range(len(contents))
    ]
    previous = 0
    for module, upto in zip(workload.modules, prefix_tokens, strict=True):
        parts.append(BreakdownPart("system", module.name, upto - previous))
        previous = upto
    framing += counter.count_message(system) - previous
    framed_messages += 1

    # Tools: per domain, counted exactly as count_tools does.
    tools = list(workload.tools)
    if tools:
        per_tool = counter.count_batch([tool_schema_json(t) for t in tools])
        by_domain: dict[str, list[int]] = {}
        for tool, n in zip(tools, per_tool, strict=True):
            domain = workload.tool_domains.get(str(tool["function"]["name"]), "other")
            by_domain.setdefault(domain, []).append(n)
        for domain, counts in by_domain.items():
            title = workload.domain_titles.get(domain, domain)
            parts.append(BreakdownPart("tools", title, sum(counts), len(counts)))

    # History: by message kind, framing kept apart.
    kinds: dict[str, list[int]] = {}
    for message in workload.history:
        frame, split = _split_message(counter, message)
        framing += frame
        framed_messages += 1
        for kind, n in split:
            kinds.setdefault(kind, []).append(n)
    for kind in (
        "user turns",
        "assistant text",
        "assistant tool calls",
        "tool results",
        "tool errors",
    ):
        if kind in kinds:
            parts.append(BreakdownPart("history", kind, sum(kinds[kind]), len(kinds[kind])))

    if q is not None:
        message = HumanMessage(q.text)
        frame, split = _split_message(counter, message)
        framing += frame
        framed_messages += 1
        parts.append(BreakdownPart("question", f"{q.id}: {q.text}", split[0][1]))

    parts.append(BreakdownPart("overhead", "message framing", framing, framed_messages))
    parts.append(BreakdownPart("overhead", "reply priming", REPLY_PRIMING))
    if tools:
        parts.append(BreakdownPart("overhead", "tools array", TOOLS_ARRAY_OVERHEAD))
    return RequestBreakdown(
        family=family,
        encoding=counter.encoding_name,
        question_id=q.id if q is not None else None,
        parts=tuple(parts),
        total=sum(p.tokens for p in parts),
        messages=framed_messages,
    )


def compare_families(
    workload: Workload,
    families: Sequence[ModelFamily] = DEFAULT_FAMILIES,
    *,
    question: WorkloadQuestion | str | None = None,
) -> list[RequestBreakdown]:
    """Return :func:`request_breakdown` for each family (default: GPT-4o, GPT-4, Claude)."""
    if not families:
        msg = "families must name at least one ModelFamily"
        raise TokenOptConfigError(msg)
    return [request_breakdown(workload, model=f, question=question) for f in families]


def render_breakdowns(
    breakdowns: Sequence[RequestBreakdown],
    *,
    workload: Workload | None = None,
    console: Console | None = None,
) -> None:
    """Print breakdowns side by side as ``rich`` tables (needs the ``cli`` extra).

    Raises:
        MissingDependencyError: ``rich`` is not installed.
    """
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError as exc:  # pragma: no cover - rich ships with the cli extra
        raise MissingDependencyError("rich (tables for the demo)", extra="cli") from exc
    if not breakdowns:
        return
    out = console or Console()
    first = breakdowns[0]
    labels = [b.family.label for b in breakdowns]

    summary = Table(title="Unoptimized request, tokens by part", title_justify="left")
    summary.add_column("part")
    for label in labels:
        summary.add_column(label, justify="right")
        summary.add_column("%", justify="right", style="dim")
    totals = [b.section_totals() for b in breakdowns]
    for section in _SECTIONS:
        row: list[str] = [_SECTION_TITLES[section]]
        for b, t in zip(breakdowns, totals, strict=True):
            row += [f"{t[section]:,}", f"{100 * t[section] / b.total:.1f}" if b.total else "-"]
        summary.add_row(*row)
    summary.add_section()
    summary.add_row(
        "[bold]Total request[/bold]",
        *[x for b in breakdowns for x in (f"[bold]{b.total:,}[/bold]", "100")],
    )
    out.print(summary)

    for section, title, label in (
        ("system", "System prompt by module", "module"),
        ("tools", "Tool schemas by domain", "domain"),
        ("history", "History by kind", "kind"),
        ("overhead", "Chat-format overhead", "kind"),
    ):
        detail = Table(title=title, title_justify="left")
        detail.add_column(label)
        detail.add_column("n", justify="right", style="dim")
        for name in labels:
            detail.add_column(name, justify="right")
        detail.add_column(f"% ({labels[0]})", justify="right", style="dim")
        for i, part in enumerate(first.rows(section)):
            values = [b.rows(section)[i].tokens for b in breakdowns]
            share = f"{100 * part.tokens / first.total:.1f}" if first.total else "-"
            detail.add_row(part.name, f"{part.items:,}", *[f"{v:,}" for v in values], share)
        out.print(detail)

    if first.question_id is not None:
        q_part = first.rows("question")[0]
        out.print(
            f"Newest question {q_part.name!r}: "
            + ", ".join(f"{b.family.label} {b.rows('question')[0].tokens}" for b in breakdowns)
            + " tokens"
        )
    for b in breakdowns:
        out.print(
            f"[dim]{b.family.label} = {b.family.model} -> {b.encoding}: {b.family.note}[/dim]"
        )
    out.print("\n[bold]What each optimizer will target[/bold]")
    for target, text in OPTIMIZER_TARGETS.items():
        fraction = first.share(target)
        out.print(f"- {_SECTION_TITLES[target]} ({100 * fraction:.0f} % of the request): {text}")
    if workload is not None:
        hits = sum(q.expect_cache_hit for q in workload.questions)
        out.print(
            f"- Question stream: {hits} of {len(workload.questions)} questions "
            f"({100 * hits / len(workload.questions):.0f} %) are repeats or paraphrases "
            "within their tenant, the share a correct semantic cache can answer"
        )


def _family_for(model: str) -> ModelFamily:
    for family in DEFAULT_FAMILIES:
        if family.model == model:
            return family
    return ModelFamily(model, model, exact=model.lower().startswith(("gpt", "o1", "o3", "o4")))


def _resolve_question(
    workload: Workload, question: WorkloadQuestion | str | None
) -> WorkloadQuestion | None:
    if isinstance(question, WorkloadQuestion):
        return question
    if isinstance(question, str):
        return workload.question(question)
    for q in workload.questions:
        if q.conversation_id == workload.history_conversation_id:
            return q
    return workload.questions[0] if workload.questions else None


def _split_message(
    counter: TokenCounter, message: BaseMessage
) -> tuple[int, list[tuple[str, int]]]:
    """Split one message's tokens into (framing, [(kind, tokens), ...])."""
    total = counter.count_message(message)
    role = {"human": "user", "ai": "assistant"}.get(message.type, message.type)
    frame = MESSAGE_OVERHEAD + counter.count(role)
    name = getattr(message, "name", None)
    if name:
        frame += 1 + counter.count(str(name))
    body = total - frame
    if isinstance(message, AIMessage):
        if message.tool_calls or message.invalid_tool_calls:
            bare = message.model_copy(update={"tool_calls": [], "invalid_tool_calls": []})
            text = counter.count_message(bare) - frame
            split = [("assistant tool calls", body - text)]
            if text:
                split.append(("assistant text", text))
            return frame, split
        return frame, [("assistant text", body)]
    if isinstance(message, ToolMessage):
        kind = "tool errors" if message.status == "error" else "tool results"
        return frame, [(kind, body)]
    return frame, [("user turns", body)]
