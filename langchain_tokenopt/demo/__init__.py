"""The offline demo: the shipped agent workload and its token breakdown.

Example:
    .. code-block:: python

        from langchain_tokenopt.demo import load_workload, request_breakdown

        breakdown = request_breakdown(load_workload(), model="gpt-4o")
        breakdown.total, breakdown.section_totals()["tools"]
"""

from langchain_tokenopt.demo.breakdown import (
    DEFAULT_FAMILIES,
    BreakdownPart,
    ModelFamily,
    RequestBreakdown,
    build_request,
    compare_families,
    render_breakdowns,
    request_breakdown,
)
from langchain_tokenopt.demo.workload import (
    PromptModule,
    QuestionKind,
    Workload,
    WorkloadQuestion,
    find_workload_dir,
    load_workload,
)

__all__ = [
    "DEFAULT_FAMILIES",
    "BreakdownPart",
    "ModelFamily",
    "PromptModule",
    "QuestionKind",
    "RequestBreakdown",
    "Workload",
    "WorkloadQuestion",
    "build_request",
    "compare_families",
    "find_workload_dir",
    "load_workload",
    "render_breakdowns",
    "request_breakdown",
]
