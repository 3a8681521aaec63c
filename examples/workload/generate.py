"""Generate the demo workload of langchain-tokenopt (stdlib only, deterministic).

Writes four JSON files next to this script (or into ``--out DIR``):

* ``system_prompt.json``: the modular ~10k-token system prompt of the Northwind agent.
* ``tools.json``: 131 OpenAI-style tool schemas in 12 domains, and the cacheable ones.
* ``history.json``: one long support conversation as LangChain message dicts.
* ``questions.json``: 64 user questions across two tenants (new, repeats, paraphrases, follow-ups).

Run ``python examples/workload/generate.py`` to regenerate, ``--check`` to verify that the
committed files are exactly what this script produces. Every text was written for this
project; nothing is copied from a benchmark set.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history_script import CUSTOMER_ID, build_history  # noqa: E402
from prompt_modules import build_modules  # noqa: E402
from question_specs import C_MAYA, build_questions  # noqa: E402
from tool_specs import DOMAIN_TITLES, build_tools, cacheable_tools, tool_domains  # noqa: E402

SEED = 20260318
COMPANY = "Northwind Outfitters"


def build_files() -> dict[str, Any]:
    """Build the content of every workload file (same output on every run)."""
    modules = build_modules(random.Random(SEED))
    for module in modules:
        module["cache_breakpoint"] = module["name"] == "core"
    system_prompt = {
        "company": COMPANY,
        "agent": "Juniper, customer-operations assistant",
        "separator": "\n\n",
        "cache_breakpoint_after": "core",
        "modules": modules,
    }
    tools = {
        "domains": DOMAIN_TITLES,
        "domain_of": tool_domains(),
        "tools": build_tools(),
        "cacheable": cacheable_tools(),
    }
    messages, facts = build_history(random.Random(SEED + 1))
    history = {
        "tenant_id": "acme",
        "user_id": "u-maya",
        "customer_id": CUSTOMER_ID,
        "conversation_id": C_MAYA,
        "facts": facts,
        "messages": messages,
    }
    questions = build_questions(cacheable_tools())
    shares: dict[str, float] = {}
    for q in questions:
        shares[q["kind"]] = shares.get(q["kind"], 0) + 1
    questions_doc = {
        "tenants": ["acme", "globex"],
        "share": {k: round(v / len(questions), 3) for k, v in sorted(shares.items())},
        "achievable_hit_rate": round(
            sum(q["expect_cache_hit"] for q in questions) / len(questions), 3
        ),
        "questions": questions,
    }
    return {
        "system_prompt.json": system_prompt,
        "tools.json": tools,
        "history.json": history,
        "questions.json": questions_doc,
    }


def render(doc: Any) -> str:
    """Serialize one file the way it is committed."""
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output folder (default: next to this script)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail if the files in --out differ from a fresh generation",
    )
    args = parser.parse_args(argv)
    files = {name: render(doc) for name, doc in build_files().items()}
    if args.check:
        stale = [
            n
            for n, text in files.items()
            if not (args.out / n).is_file() or (args.out / n).read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"out of date: {', '.join(stale)} (run python examples/workload/generate.py)")
            return 1
        print("workload files are up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
