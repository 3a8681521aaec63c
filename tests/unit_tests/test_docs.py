"""The docs site documents every public name (no build, no network).

Every name in ``langchain_tokenopt.__all__``, in each subpackage's ``__all__`` and in each
public top-level module's ``__all__`` must be rendered by a mkdocstrings directive
(``::: dotted.path``) in ``docs/api/``, and every directive must resolve to the object it
names. ``mkdocs build --strict`` (CI, ``make docs``) checks the rest.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import langchain_tokenopt

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API = DOCS / "api"
_DIRECTIVE = re.compile(r"^::: *([\w.]+) *$", re.M)
_NAV_PAGE = re.compile(r"^\s*-\s+(?:[^:\n]+:\s+)?(\S+\.md)\s*$", re.M)
# Public modules outside subpackages whose names users import from them directly.
_EXTRA_MODULES = ("langchain_tokenopt.graph.middleware",)


def _public_modules() -> list[str]:
    """The root, every public subpackage and every public top-level module."""
    names = ["langchain_tokenopt"]
    for info in pkgutil.walk_packages(langchain_tokenopt.__path__, "langchain_tokenopt."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts):
            continue
        if info.ispkg or len(parts) == 2:
            names.append(info.name)
    return sorted({*names, *_EXTRA_MODULES})


def _resolve(path: str) -> Any:
    """Get ``path`` as Python would: attributes first, a submodule only where none exists.

    (``langchain_tokenopt.monitoring.caching_rules`` is the function the package exports,
    not the module of the same name.)
    """
    parts = path.split(".")
    obj: Any = importlib.import_module(parts[0])
    for i, attr in enumerate(parts[1:], start=1):
        if not hasattr(obj, attr) and isinstance(obj, ModuleType):
            importlib.import_module(".".join(parts[: i + 1]))
        obj = getattr(obj, attr)
    return obj


def _directives() -> list[str]:
    return [m for page in sorted(API.glob("*.md")) for m in _DIRECTIVE.findall(page.read_text())]


def _exports() -> list[tuple[str, str]]:
    pairs = []
    for name in _public_modules():
        module: ModuleType = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} has no __all__"
        pairs += [(name, attr) for attr in exported]
    return pairs


def test_the_api_pages_have_directives() -> None:
    assert API.is_dir()
    assert len(_directives()) > 50


@pytest.mark.parametrize("path", _directives())
def test_every_directive_resolves(path: str) -> None:
    assert path.startswith("langchain_tokenopt"), path
    _resolve(path)


def test_every_public_name_is_documented() -> None:
    documented: dict[str, list[Any]] = {}
    for path in _directives():
        documented.setdefault(path.rsplit(".", 1)[-1], []).append(_resolve(path))
    missing = []
    for module, name in _exports():
        value = getattr(importlib.import_module(module), name)
        if not any(obj is value for obj in documented.get(name, [])):
            missing.append(f"{module}.{name}")
    assert not missing, (
        "public names without a `::: path` directive in docs/api/*.md (add one where the "
        f"object belongs): {missing}"
    )


def test_modules_are_found() -> None:
    modules = _public_modules()
    for expected in (
        "langchain_tokenopt.cache",
        "langchain_tokenopt.context.strategies",
        "langchain_tokenopt.monitoring.dashboard",
        "langchain_tokenopt.tokens",
        "langchain_tokenopt.errors",
    ):
        assert expected in modules
    assert not any("._" in m for m in modules)


def test_every_page_is_in_the_nav() -> None:
    nav = set(_NAV_PAGE.findall((ROOT / "mkdocs.yml").read_text()))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == nav, {"not in nav": pages - nav, "missing": nav - pages}


def test_readme_links_to_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/benchmarks.md" in readme


def test_the_api_index_lists_the_root_names() -> None:
    index = (API / "index.md").read_text()
    missing = [n for n in langchain_tokenopt.__all__ if f"[`{n}`]" not in index]
    assert not missing, f"add these root names to the table in docs/api/index.md: {missing}"


def _readme_summary_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    measured = readme.split("\n## Measured", 1)[1].split("\n## ", 1)[0]
    return [line for line in measured.splitlines() if line.startswith("| ")][1:]


def test_the_readme_summary_figures_are_on_the_benchmarks_page() -> None:
    """Each number in README's summary table is also in docs/benchmarks.md (no drift)."""
    rows = _readme_summary_rows()
    assert rows, "README's Measured section has no summary table"
    page = (DOCS / "benchmarks.md").read_text()
    missing = []
    for row in rows:
        for number in re.findall(r"\d[\d,]*(?:\.\d+)?(?:–\d[\d,]*(?:\.\d+)?)?", row):
            if number not in page:
                missing.append((row.split("|")[1].strip(), number))
    assert not missing, f"README summary figures not in docs/benchmarks.md: {missing}"


def test_the_griffe_extension_turns_rst_into_markdown() -> None:
    pytest.importorskip("griffe")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "rst_docstrings", DOCS / "_ext" / "rst_docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (
        "See :class:`~langchain_tokenopt.cache.SemanticCache` and the `spec\n"
        "<https://example.org/x>`_.\n\n"
        "The tree::\n\n    Root\n    └── Child\n\n"
        "Example:\n    .. code-block:: python\n\n        x = 1\n\n        y = :class:`kept`\n"
    )
    assert module.rst_to_markdown(text) == (
        "See `SemanticCache` and the [spec](https://example.org/x).\n\n"
        "The tree:\n\n```text\nRoot\n└── Child\n```\n\n"
        "Example:\n    ```python\n    x = 1\n\n    y = :class:`kept`\n    ```\n"
    )
