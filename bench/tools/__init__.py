"""Tool selection benches: ``python -m bench tools <subcommand>``.

Subcommands (each module's docstring says what it measures and where it writes):

* ``run``: the headline run on BFCL and MetaTool (:mod:`bench.tools.headline`);
* ``latency``: query latency alone (:mod:`bench.tools.latency`);
* ``llm-selector``: tokens of LangChain's LLM tool selector call (:mod:`bench.tools.llm_selector`);
* ``default-classifier``: the shipped default abstention classifier (:mod:`bench.tools.classifier`);
* ``reranker``: the learned second stage, dev two-fold (:mod:`bench.tools.reranker`);
* ``abstention-own``: abstention against each question's own functions
  (:mod:`bench.tools.abstention_own`);
* ``generated-examples``: SmolLM2-written example queries, dev first
  (:mod:`bench.tools.generated_examples`);
* ``label-audit``: the audit of BFCL labels in the pooled catalog (:mod:`bench.tools.label_audit`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import DATASETS, handler, results_option

__all__ = ["register"]


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=DATASETS / "tools", help="tools dataset folder"
    )
    results_option(parser)


def _cache(parser: argparse.ArgumentParser, default: Path | None = None) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=default,
        help="tool-vector store" + (" (default: a new temp folder)" if default is None else ""),
    )


def _generated(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--generated",
        type=Path,
        default=None,
        help="folder of the generated example-query caches (default: <user cache>/bench)",
    )
    parser.add_argument(
        "--no-generated",
        action="store_true",
        help="skip SmolLM2-generated example queries ('ours' then uses dev questions only)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tools`` and its subcommands to the dispatcher's subparsers."""
    tools = sub.add_parser("tools", help="tool selection: recall, abstention, tokens, latency")
    cmds = tools.add_subparsers(dest="subcommand", required=True, metavar="<subcommand>")

    p = cmds.add_parser("run", help="headline run: BFCL + MetaTool test split (~5 min)")
    _data(p)
    _cache(p)
    _generated(p)
    p.add_argument("--quick", action="store_true", help="small run (subsampled questions)")
    p.set_defaults(func=handler("bench.tools.headline"))

    p = cmds.add_parser("latency", help="query latency alone, 400 BFCL test questions")
    _data(p)
    _cache(p)
    _generated(p)
    p.set_defaults(func=handler("bench.tools.latency"))

    p = cmds.add_parser("llm-selector", help="input tokens of LLMToolSelectorMiddleware's call")
    _data(p)
    p.set_defaults(func=handler("bench.tools.llm_selector"))

    p = cmds.add_parser(
        "default-classifier", help="the shipped default classifier: subset search, refit"
    )
    _data(p)
    _cache(p)
    p.add_argument("--dev-only", action="store_true", help="do not read the test split")
    p.set_defaults(func=handler("bench.tools.classifier", "default_classifier"))

    p = cmds.add_parser("reranker", help="the learned second stage, dev two-fold")
    _data(p)
    _cache(p)
    p.set_defaults(func=handler("bench.tools.reranker"))

    p = cmds.add_parser("abstention-own", help="abstention against each question's own tools")
    _data(p)
    _cache(p, Path("/tmp/tools_abstention_own"))
    p.set_defaults(func=handler("bench.tools.abstention_own"))

    p = cmds.add_parser("generated-examples", help="SmolLM2-written example queries, dev first")
    _data(p)
    _cache(p, Path("/tmp/tools_gen_examples"))
    p.add_argument("--per-tool", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--budget-min", type=float, default=25.0)
    p.add_argument("--latency-queries", type=int, default=300)
    p.set_defaults(func=handler("bench.tools.generated_examples"))

    p = cmds.add_parser("label-audit", help="BFCL labels in the pooled catalog (dev split)")
    _data(p)
    _cache(p, Path("/tmp/tools_label_audit"))
    p.set_defaults(func=handler("bench.tools.label_audit"))
