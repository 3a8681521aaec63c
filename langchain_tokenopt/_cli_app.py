"""The ``tokenopt`` commands (typer + rich); :mod:`langchain_tokenopt.cli` is the entry point.

This module imports typer and rich at import time, so it is imported only by
:func:`langchain_tokenopt.cli.main` (which turns a missing extra into one line) and by
``langchain_tokenopt.cli.app`` / ``summary_tables``.

The commands are listed in :mod:`langchain_tokenopt.cli`.

Example:
    .. code-block:: bash

        tokenopt stats --window 7d --by model
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

from langchain_tokenopt.errors import MissingDependencyError, TokenOptError

try:
    import typer
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
except ImportError as exc:
    raise MissingDependencyError("typer and rich (the tokenopt command)", extra="cli") from exc

if TYPE_CHECKING:
    from langchain_tokenopt.monitoring.store import MetricsStore
    from langchain_tokenopt.monitoring.summary import LatencyStats, Summary

__all__ = ["app", "summary_tables"]


def _fail(message: str, exc: BaseException | None = None) -> NoReturn:
    """Print one ``error:`` line (no markup from ``message``) and exit with code 2."""
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2) from exc


def _open_store(db: Path | None, redis_url: str | None, *, create: bool) -> MetricsStore:
    """Open the store to read; a SQLite file is created only when ``create`` allows it."""
    if redis_url:
        from langchain_tokenopt.monitoring.store_redis import RedisMetricsStore

        return RedisMetricsStore(url=redis_url)
    from langchain_tokenopt.monitoring.store_sqlite import (
        SQLiteMetricsStore,
        default_metrics_path,
    )

    path = db if db is not None else default_metrics_path()
    if not create and not path.is_file():
        hint = "" if db is not None else " (nothing has been recorded on this machine yet)"
        _fail(f"no metrics database at {path}: the file does not exist{hint}")
    return SQLiteMetricsStore(path=path)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _usd(v: float | None) -> str:
    return "n/a" if v is None else f"${v:,.6f}" if abs(v) < 1 else f"${v:,.2f}"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def _pcts(stats: LatencyStats) -> tuple[float | None, float | None, float | None]:
    return stats.p50, stats.p95, stats.p99


def summary_tables(summary: Summary) -> list[Any]:
    """Rich tables for a :class:`~langchain_tokenopt.monitoring.Summary` (overall + groups)."""
    overview = Table(title=f"tokenopt — window {summary.window or 'all'}", show_header=False)
    overview.add_column("metric", style="bold")
    overview.add_column("value", justify="right")
    rows = [
        ("requests", f"{summary.requests:,}"),
        ("model calls", f"{summary.llm_calls:,}"),
        ("cache hits", f"{summary.cache_hits:,} {summary.cache_hits_by_layer or ''}"),
        ("request cache-hit rate", _pct(summary.request_cache_hit_rate)),
        ("token cache-hit rate", _pct(summary.token_cache_hit_rate)),
        ("prompt-cache read rate", _pct(summary.prompt_cache_read_rate)),
        ("tokens actual", f"{summary.tokens.actual:,}"),
        ("tokens without optimization", f"{summary.tokens.counterfactual:,}"),
        ("token reduction", _pct(summary.token_reduction)),
        ("average reduction / request", _pct(summary.average_reduction)),
        ("latency p50 / p95 / p99 ms", " / ".join(_ms(x) for x in _pcts(summary.latency))),
        ("optimizer p50/p95/p99 ms", " / ".join(_ms(x) for x in _pcts(summary.optimizer_latency))),
        ("provider cache reads / writes (tokens)",
         f"{summary.tokens.cache_read:,} / {summary.tokens.cache_creation:,}"),
        ("priced as", ", ".join(summary.cost.priced_as) or "each request's own model"),
        ("cost actual", _usd(summary.cost.actual_usd)),
        ("cost unoptimized, no provider caching", _usd(summary.cost.counterfactual_usd)),
        ("cost unoptimized, with provider caching", _usd(summary.cost.counterfactual_cached_usd)),
        ("saved vs unoptimized, no provider caching", _usd(summary.cost.savings_usd)),
        ("saved vs unoptimized, with provider caching", _usd(summary.cost.savings_vs_cached_usd)),
        ("pricing coverage", _pct(summary.cost.pricing_coverage)),
        ("unpriced models", ", ".join(summary.cost.unpriced_models) or "–"),
        ("model calls without usage (excluded)", f"{summary.usage_unavailable:,}"),
        ("errors", ", ".join(f"{k}: {v}" for k, v in summary.errors.items()) or "0"),
    ]  # fmt: skip
    for name, value in rows:
        overview.add_row(name, value)

    steps = Table(title="savings per step")
    steps.add_column("step")
    steps.add_column("tokens saved", justify="right")
    steps.add_column("USD saved (vs no caching)", justify="right")
    steps.add_column("USD saved net of lost cache reads", justify="right")
    # Rows are named by the graph's steps (StepName); the cost's savings key of the cache
    # step is "response_cache", and the provider's prompt cache is not a step of ours.
    names = ["cache", "tool_selection", "compression", "context", "prompt_cache"]
    usd_key = {"cache": "response_cache"}
    for name in names:
        tokens = summary.tokens_saved_by_step.get(name)
        usd = summary.cost.savings_by_step.get(usd_key.get(name, name))
        net = summary.cost.net_savings_by_step.get(usd_key.get(name, name))
        steps.add_row(
            name,
            "–" if tokens is None else f"{tokens:,}",
            _usd(usd),
            "–" if name == "prompt_cache" else _usd(net),
        )
    tables: list[Any] = [overview, steps]
    if summary.groups:
        keys = list(summary.groups[0].key)
        groups = Table(title="by " + ", ".join(keys))
        for key in keys:
            groups.add_column(key)
        for col in ("requests", "hit rate", "reduction", "p95 ms", "cost", "saved"):
            groups.add_column(col, justify="right")
        for g in summary.groups:
            s = g.summary
            groups.add_row(
                *[str(g.key[k]) if g.key[k] is not None else "(none)" for k in keys],
                f"{s.requests:,}",
                _pct(s.request_cache_hit_rate),
                _pct(s.token_reduction),
                _ms(s.latency.p95),
                _usd(s.cost.actual_usd),
                _usd(s.cost.savings_usd),
            )
        tables.append(groups)
    return tables


def _repo_file(*parts: str) -> Path | None:
    """Find a repository file from the working directory or the package's source tree."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = root.joinpath(*parts)
        if candidate.is_file():
            return candidate
    return None


console = Console()
app = typer.Typer(help="langchain-tokenopt: see what the optimizer saves.", no_args_is_help=True)
_DB = Annotated[Path | None, typer.Option(help="SQLite metrics file (default: user cache dir).")]
_REDIS = Annotated[str | None, typer.Option(help="Read a Redis metrics store instead.")]


@app.command()
def stats(
    window: Annotated[str, typer.Option(help="Window: 90s, 15m, 24h, 7d, 2w or all.")] = "24h",
    by: Annotated[
        str, typer.Option(help="Group by (comma separated): model,provider,tenant,user,day,...")
    ] = "",
    db: _DB = None,
    redis_url: _REDIS = None,
    price_as: Annotated[
        str | None,
        typer.Option(
            help="Price every request as this hosted model (e.g. claude-sonnet-4-5); "
            "default: the prices recorded with each request."
        ),
    ] = None,
) -> None:
    """Print the summary of recorded requests as rich tables."""
    keys = tuple(k.strip() for k in by.split(",") if k.strip())
    try:
        store = _open_store(db, redis_url, create=False)
        try:
            result = store.summary(window=window, group_by=keys, price_as=price_as)  # type: ignore[arg-type]
        finally:
            store.close()
    except TokenOptError as exc:
        _fail(str(exc), exc)
    for table in summary_tables(result):
        console.print(table)


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(envvar="TOKENOPT_DASHBOARD_TOKEN", help="Bearer token for the data routes."),
    ] = None,
    db: _DB = None,
    redis_url: _REDIS = None,
    price_as: Annotated[
        str | None,
        typer.Option(help="Price every request as this hosted model (e.g. claude-sonnet-4-5)."),
    ] = None,
) -> None:
    """Serve the web dashboard and /metrics."""
    try:
        from langchain_tokenopt.monitoring.dashboard import serve
    except MissingDependencyError as exc:
        _fail(str(exc), exc)

    if host not in ("127.0.0.1", "localhost", "::1") and token is None:
        console.print("[yellow]warning:[/yellow] dashboard exposed beyond loopback without --token")
    try:
        # the default file may be created (the app may record later); a named one must exist
        store = _open_store(db, redis_url, create=db is None)
    except TokenOptError as exc:
        _fail(str(exc), exc)
    console.print(f"tokenopt dashboard on http://{escape(host)}:{port}/  (Ctrl-C to stop)")
    try:
        serve(store, host=host, port=port, token=token, price_as=price_as)
    except (MissingDependencyError, TokenOptError) as exc:
        _fail(str(exc), exc)
    finally:
        store.close()


#: What ``tokenopt demo`` says where no checkout holds the demo (it is not in the wheel).
_DEMO_MISSING = (
    "the demo is not part of the installed package: it lives in the repository's examples/ "
    "folder. Clone the langchain-tokenopt repository and run `make demo` (or "
    "`tokenopt demo`) from its root."
)


@app.command()
def demo() -> None:
    """Run the checkout's examples/demo.py (records into the default store)."""
    path = _repo_file("examples", "demo.py")
    if path is None:
        _fail(_DEMO_MISSING)
    sys.argv = [str(path)]
    runpy.run_path(str(path), run_name="__main__")


#: What ``tokenopt bench`` says where no checkout holds the benches (they are not in the wheel).
_BENCH_MISSING = (
    "the benchmarks are not part of the installed package: they live in the repository's "
    "bench/ folder. Clone the langchain-tokenopt repository and run `tokenopt bench NAME` "
    "(or `python -m bench NAME`) from its root."
)


def _find_checkout(roots: Iterable[Path] | None = None) -> Path | None:
    """The first of ``roots`` that holds the ``bench`` package (a checkout of the repository).

    ``roots`` defaults to the working directory, then the package's source tree.
    """
    for root in roots if roots is not None else (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / "bench" / "__main__.py").is_file():
            return root
    return None


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Benchmark: runs `python -m bench NAME` (tools, agent, e2e, ...)")
    ],
) -> None:
    """Run ``python -m bench NAME`` from the repository checkout, passing further arguments.

    A bench that takes ``--results`` writes its results under the user cache dir unless
    ``--results`` or ``--out`` is given, so a run never overwrites the repository's tracked
    results (``make bench`` writes those). ``python -m bench --help`` lists the benches.
    """
    repo = _find_checkout()
    if repo is None:
        _fail(_BENCH_MISSING)
    try:
        cmd = _bench_command(repo, name, list(ctx.args))
    except LookupError as exc:
        _fail(str(exc), exc)
    raise typer.Exit(subprocess.call(cmd, cwd=repo))


def _bench_command(repo: Path, name: str, args: list[str]) -> list[str]:
    """``python -m bench NAME ARGS``, plus ``--results`` into the user cache dir when it applies.

    It applies when the chosen (sub)command takes ``--results`` (its ``--help``, run in
    ``repo``, says so) and ``args`` give neither ``--results`` nor ``--out``. Raises
    :class:`LookupError` when that ``--help`` fails (no such bench).
    """
    cmd = [sys.executable, "-m", "bench", name, *args]
    chosen = ("--results", "--out", "-h", "--help")
    if any(a in chosen or a.startswith(("--results=", "--out=")) for a in args):
        return cmd
    probe = subprocess.run(
        [*cmd, "--help"], cwd=repo, capture_output=True, text=True, timeout=300, check=False
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        msg = f"bench {name!r} not found: {lines[-1] if lines else 'python -m bench failed'}"
        raise LookupError(msg)
    if "--results" not in probe.stdout:
        return cmd
    from langchain_tokenopt._assets import user_cache_dir

    folder = user_cache_dir() / "bench"
    console.print(f"[dim]results go to {escape(str(folder))} (pass --results to choose)[/dim]")
    return [*cmd, "--results", str(folder)]


@app.command("tool-examples")
def tool_examples(
    tools: Annotated[
        Path, typer.Argument(help="JSON file: a list of OpenAI tool dicts or JSON schemas.")
    ],
    # "\\[" keeps the brackets: typer renders help text as rich markup
    out: Annotated[Path, typer.Option(help="Where to write {tool name: \\[questions]} as JSON.")],
    per_tool: Annotated[int, typer.Option(help="Questions per tool, 1 to 8.")] = 2,
    cache: Annotated[
        Path | None,
        typer.Option(help="Cache keyed by schema hash (default: user cache dir)."),
    ] = None,
) -> None:
    """Write example questions per tool with the local SmolLM2 (only changed tools rerun)."""
    import json

    from langchain_tokenopt._assets import user_cache_dir

    try:
        catalog = json.loads(tools.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {tools}: {exc}", exc)
    if not isinstance(catalog, list):
        _fail(f"{tools} must hold a JSON list of tool schemas")
    try:
        from langchain_tokenopt.tools.augment import generate_example_queries

        examples = generate_example_queries(
            catalog,
            per_tool=per_tool,
            cache_path=cache or user_cache_dir() / "tool_examples.json",
        )
    except TokenOptError as exc:
        _fail(str(exc), exc)
    out.write_text(json.dumps(examples, indent=2, ensure_ascii=False), encoding="utf-8")
    written = sum(len(v) for v in examples.values())
    console.print(f"wrote {written} questions for {len(examples)} tools to {out}")
