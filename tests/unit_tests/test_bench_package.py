"""``bench/`` is a package with one entry point, one percentile and no patched libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

#: Benches still run as scripts, which the checks below would skip (none left).
SCRIPTS: set[str] = set()
CAPABILITIES = ("tools", "cache", "compression", "context", "load", "monitoring", "agent", "e2e")


def _modules() -> list[Path]:
    found = sorted(p for p in BENCH.rglob("*.py") if p.name not in SCRIPTS)
    assert BENCH / "common.py" in found
    return found


def _help(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_the_dispatcher_lists_every_capability() -> None:
    out = _help()
    assert out.startswith("usage: python -m bench")
    for name in (*CAPABILITIES, "all"):
        assert f"\n    {name} " in out or f"\n    {name}\n" in out, name


@pytest.mark.parametrize(
    ("capability", "subcommands"),
    [
        (
            "tools",
            (
                "run",
                "latency",
                "llm-selector",
                "default-classifier",
                "reranker",
                "abstention-own",
                "generated-examples",
                "label-audit",
            ),
        ),
        ("context", ("run", "latency", "lm", "middleware")),
        (
            "cache",
            (
                "run",
                "pairwise",
                "dev-curve",
                "latency",
                "anchors",
                "scale",
                "calibration",
                "hard-negatives",
                "cluster",
            ),
        ),
        ("e2e", ("tool-margin",)),
    ],
)
def test_each_capability_lists_its_subcommands(
    capability: str, subcommands: tuple[str, ...]
) -> None:
    out = _help(capability)
    for name in subcommands:
        assert f"\n    {name}" in out, name


@pytest.mark.parametrize(
    ("capability", "options"),
    [
        (
            "agent",
            (
                "--data",
                "--split",
                "--quick",
                "--only",
                "--methods",
                "--settings",
                "--context-budget",
                "--no-toolkits",
                "--first-trial",
                "--out",
                "--results",
            ),
        ),
        ("e2e", ("--quick", "--limit", "--no-prefix-stable", "--results")),
    ],
)
def test_the_former_scripts_keep_their_options(capability: str, options: tuple[str, ...]) -> None:
    out = _help(capability)
    for option in options:
        assert f"[{option}" in out, option


@pytest.mark.parametrize(
    ("subcommand", "options"),
    [
        (
            "run",
            ("--data", "--quick", "--scale", "--burst", "--redis-cpu", "--no-redis", "--results"),
        ),
        ("pairwise", ("--data", "--quick", "--results")),
        ("dev-curve", ("--data", "--dev-pairs", "--results")),
        ("latency", ("--data", "--redis-cpu", "--no-redis", "--results")),
        ("anchors", ("--data", "--quick", "--redis-cpu", "--results")),
        ("scale", ("--quick", "--scale", "--results")),
        (
            "calibration",
            (
                "--split",
                "--stream",
                "--tenants",
                "--clusters",
                "--judge",
                "--max-error-rate",
                "--seed",
                "--pool",
                "--exploration",
                "--verifier-audit",
                "--out",
                "--sweep",
                "--results",
            ),
        ),
        (
            "hard-negatives",
            ("--data", "--per-kind", "--seed", "--out", "--no-cache", "--dump-dev", "--results"),
        ),
    ],
)
def test_the_cache_subcommands_keep_the_scripts_options(
    subcommand: str, options: tuple[str, ...]
) -> None:
    out = _help("cache", subcommand)
    for option in options:
        assert f"[{option}" in out, option


def test_the_hard_negative_generator_perturbs_each_kind_once_per_split() -> None:
    from bench.cache.hard_negatives import KINDS, make_negatives, split_of

    questions = [
        "Is it safe to move from India to China in 2019 for 5 years?",
        "Why is Python better than Java for a team of 10 people?",
        "Can I drive 100 km to Delhi on Monday at 7 pm?",
        "Is it cheaper to fly from London to Paris in March?",
        "Should I learn Python or Java in 2018 with 3 months to spare?",
    ]
    rows = make_negatives(questions, per_kind=1, seed=0)
    assert {r["kind"] for r in rows} == set(KINDS)
    for row in rows:
        assert row["perturbed"] != row["original"]
        assert row["split"] == split_of(row["source"])
    for kind in KINDS:
        for split in ("dev", "test"):
            assert sum(r["kind"] == kind and r["split"] == split for r in rows) <= 1


def test_an_unknown_subcommand_fails_with_a_usage_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "tools", "no-such-mode"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "invalid choice: 'no-such-mode'" in done.stderr


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # ``from package import module`` binds a module too
            names.update(a.asname or a.name for a in node.names)
    return names


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    imported = _imported_modules(tree)
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) == ("sys", "path")
        ):
            out.append(f"{path.name}:{node.lineno} uses sys.path")
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in imported
            ):
                out.append(f"{path.name}:{target.lineno} assigns {target.value.id}.{target.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in imported
        ):
            out.append(f"{path.name}:{node.lineno} setattr on module {node.args[0].id}")
    return out


def test_no_bench_module_edits_sys_path_or_patches_a_library() -> None:
    problems = [p for path in _modules() for p in _problems(path)]
    assert not problems, problems


def test_the_checker_catches_a_patch_and_a_path_edit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\nfrom langchain_tokenopt.tools import index\n"
        "sys.path.insert(0, '.')\nindex.split_intents = len\n"
    )
    assert len(_problems(bad)) == 2


def test_there_is_one_percentile_helper() -> None:
    defined, computed = [], []
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(
                k in node.name.lower() for k in ("percentile", "pct", "p95", "p99", "quantile")
            ):
                defined.append(f"{path.relative_to(BENCH)}:{node.name}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("percentile", "quantiles")
                and isinstance(node.value, ast.Name)
                and node.value.id in ("np", "statistics")
            ):
                computed.append(f"{path.relative_to(BENCH)}:{node.lineno}")
    assert defined == ["common.py:percentile"]
    assert computed == [computed[0]] and computed[0].startswith("common.py:")


def test_the_percentile_interpolates_and_refuses_nonsense() -> None:
    from bench.common import percentile

    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0], 100) == 3.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 101)
