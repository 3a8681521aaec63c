"""The offline demo: the repository's agent workload and its token breakdown.

It lives in the repository's ``examples/`` folder, not in the wheel: import it as
``examples.tokenopt_demo`` with the repository root on ``sys.path`` (``examples/demo.py``,
``python -m bench e2e`` and the tests do).

Example:
    .. code-block:: python

        from examples.tokenopt_demo import load_workload, request_breakdown

        breakdown = request_breakdown(load_workload(), model="gpt-4o")
        breakdown.total, breakdown.section_totals()["tools"]
"""

from .breakdown import (
    DEFAULT_FAMILIES,
    BreakdownPart,
    ModelFamily,
    RequestBreakdown,
    build_request,
    compare_families,
    render_breakdowns,
    request_breakdown,
)
from .workload import (
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
