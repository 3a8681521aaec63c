"""Next-call sufficiency of the demo run: did each model call keep what the next step needs?

The measure of ``python -m bench agent``, applied to the demo workload. For a question that
needs tools (``expected_tools``), a model call is **sufficient** when every needed tool is
bound on it and every argument value of the expected calls (``expected_args``) that the
unoptimized request holds is still in the request sent. Values are compared as the agent
bench does: strings and numbers of at least two characters, lower-cased and
whitespace-folded; booleans are not checked.

Example:
    .. code-block:: python

        from examples.tokenopt_demo.sufficiency import question_sufficiency

        row = question_sufficiency(question, calls, full_text)
        row.sufficient, row.args_lost
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .tool_loop import FIND_TOOLS, ModelCall
from .workload import WorkloadQuestion

__all__ = ["QuestionSufficiency", "SufficiencySummary", "argument_values", "question_sufficiency"]


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def argument_values(value: Any) -> list[list[str]]:
    """Each argument value as its accepted spellings (strings, numbers; no bools, >= 2 chars)."""
    out: list[list[str]] = []
    if isinstance(value, Mapping):
        for v in value.values():
            out.extend(argument_values(v))
    elif isinstance(value, list | tuple):
        for v in value:
            out.extend(argument_values(v))
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        forms = [str(int(value)), f"{int(value)}.0"] if float(value).is_integer() else [repr(value)]
        if len(forms[0]) >= 2:
            out.append(forms)
    elif isinstance(value, str) and len(value.strip()) >= 2:
        out.append([_fold(value.strip())])
    return out


@dataclass(frozen=True)
class QuestionSufficiency:
    """Next-call sufficiency of one question that needs tools (its turn's first model call)."""

    question_id: str
    """The workload question."""
    tools_bound: bool
    """Every expected tool was bound on the first model call."""
    args_checked: int
    """Expected argument values that the unoptimized request holds (the others come from the
    session or a tool result, and are not checked)."""
    args_lost: tuple[str, ...]
    """Checked values missing from the request sent."""
    recovered: bool
    """Not all bound at first, but all bound on the call right after a ``find_tools`` call."""
    missing_tools: tuple[str, ...]
    """Expected tools not bound on the first call."""

    @property
    def args_kept(self) -> bool:
        """Every checked argument value reached the model."""
        return not self.args_lost

    @property
    def sufficient(self) -> bool:
        """Tools bound and argument values kept on the first call."""
        return self.tools_bound and self.args_kept

    @property
    def sufficient_with_find(self) -> bool:
        """Sufficient, counting one ``find_tools`` recovery."""
        return (self.tools_bound or self.recovered) and self.args_kept


def question_sufficiency(
    question: WorkloadQuestion, calls: Sequence[ModelCall], full_text: str
) -> QuestionSufficiency | None:
    """Judge one turn's model calls; ``None`` when the question needs no tool or none ran.

    Args:
        question: The question (its ``expected_tools`` and ``expected_args``).
        calls: The turn's model calls, in order, as the model received them.
        full_text: The unoptimized request's text, folded like
            :func:`~examples.tokenopt_demo.tool_loop.request_text`.
    """
    if not question.expected_tools or not calls:
        return None
    first = calls[0]
    missing = tuple(t for t in question.expected_tools if t not in first.tools)
    recovered = bool(missing) and (
        FIND_TOOLS in first.tool_calls
        and len(calls) > 1
        and all(t in calls[1].tools for t in question.expected_tools)
    )
    checked = [
        forms
        for forms in argument_values(question.expected_args)
        if any(f in full_text for f in forms)
    ]
    lost = tuple(forms[0] for forms in checked if not any(f in first.text for f in forms))
    return QuestionSufficiency(
        question_id=question.id,
        tools_bound=not missing,
        args_checked=len(checked),
        args_lost=lost,
        recovered=recovered,
        missing_tools=missing,
    )


@dataclass(frozen=True)
class SufficiencySummary:
    """Shares over the misses that need tools (``None`` when there are none)."""

    questions: int
    """Misses whose question needs tools."""
    tools_bound: float | None
    """Share with every expected tool bound on the first call."""
    args_kept: float | None
    """Share with every checked argument value in the request."""
    sufficient: float | None
    """Share with both."""
    sufficient_with_find: float | None
    """Share with both, counting one ``find_tools`` recovery."""
    insufficient: tuple[str, ...]
    """Ids of the questions that were not sufficient on the first call."""

    @classmethod
    def of(cls, rows: Sequence[QuestionSufficiency]) -> SufficiencySummary:
        """Summarize per-question rows."""

        def share(flags: list[bool]) -> float | None:
            return round(sum(flags) / len(flags), 4) if flags else None

        return cls(
            questions=len(rows),
            tools_bound=share([r.tools_bound for r in rows]),
            args_kept=share([r.args_kept for r in rows]),
            sufficient=share([r.sufficient for r in rows]),
            sufficient_with_find=share([r.sufficient_with_find for r in rows]),
            insufficient=tuple(r.question_id for r in rows if not r.sufficient),
        )
