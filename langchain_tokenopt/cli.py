"""The ``tokenopt`` command line (extra ``cli``: typer + rich).

Commands:

* ``tokenopt stats [--window 24h] [--by model,tenant] [--db PATH | --redis-url URL]``
* ``tokenopt dashboard [--host 127.0.0.1] [--port 8765] [--token T] [--db PATH]``
* ``tokenopt demo`` runs ``examples/demo.py`` from a checkout of the repository (the demo is
  not in the wheel; elsewhere it says to clone the repository and run ``make demo``)
* ``tokenopt bench NAME [ARGS...]`` runs ``python -m bench NAME [ARGS...]`` from a checkout of
  the repository (the benches are not in the wheel)
* ``tokenopt tool-examples TOOLS.json --out EXAMPLES.json [--per-tool 2]`` writes example
  questions per tool with the local SmolLM2 (for ``ToolRetriever(examples=...)``)

This module imports nothing optional: the commands live in a private module that needs
typer and rich, loaded by :func:`main` (and by the ``app`` and ``summary_tables``
attributes on first access). A missing extra, for the CLI itself or for a command, is
one ``error:`` line naming the ``pip install`` command, with exit code 2, not a traceback.

Example:
    .. code-block:: bash

        tokenopt stats --window 7d --by model
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

from langchain_tokenopt.errors import MissingDependencyError

if TYPE_CHECKING:
    from langchain_tokenopt._cli_app import app, summary_tables

__all__ = ["app", "main", "summary_tables"]

_LAZY = ("app", "summary_tables")


def __getattr__(name: str) -> Any:
    """Load ``app`` / ``summary_tables`` from the typer module on first access."""
    if name in _LAZY:
        from langchain_tokenopt import _cli_app

        return getattr(_cli_app, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def _missing(exc: MissingDependencyError) -> NoReturn:
    sys.stderr.write(f"tokenopt: error: {exc}\n")
    raise SystemExit(2) from None


def main() -> None:
    """Entry point of the ``tokenopt`` script."""
    try:
        from langchain_tokenopt._cli_app import app
    except MissingDependencyError as exc:
        _missing(exc)
    try:
        app()
    except MissingDependencyError as exc:
        _missing(exc)


if __name__ == "__main__":  # pragma: no cover
    main()
