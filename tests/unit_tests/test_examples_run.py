"""Every example script runs offline and prints what it sets out to show.

Sockets are disabled in this process; the scripts run in subprocesses with no network either
(nothing they use reaches for one). Each test reads the script's printed proof, not just its
exit status.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(script: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, str(REPO / "examples" / script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def _line(out: str, pattern: str) -> str:
    found = re.search(pattern, out, re.MULTILINE)
    assert found, f"no line matches {pattern!r} in:\n{out}"
    return found.group(0)


def test_drop_in_cache_shows_each_lookup_outcome() -> None:
    out = _run("drop_in_cache.py")
    _line(out, r"^miss .*\(acme\) 'What is the capital of France\?'$")
    _line(out, r"^exact_hit +sim=1\.000 .*\(acme\) 'What is the capital of France\?'$")
    # The paraphrase is served by the semantic layer, not the exact one.
    _line(out, r"^semantic_hit +sim=0\.\d+ .*\(acme\) \"What is France's capital\?\"$")
    # The near miss is found, turned down by the verifier, and the reason is printed.
    unsafe = r"'Is it unsafe to take ibuprofen with alcohol\?'"
    _line(out, rf"^rejected +sim=0\.\d+ .*{unsafe}\n +-> .*\n +reason: antonym\b.*unsafe")
    # Another tenant misses on the question acme has cached.
    _line(out, r"^miss .*\(globex\) 'What is the capital of France\?'$")
    assert "hits: exact=1 semantic=1" in out


def test_langgraph_agent_shows_tool_call_bound_tools_and_tokens() -> None:
    out = _run("langgraph_agent.py")
    call = _line(out, r"^  model call: tools bound \[.*\] -> tool call get_store_hours\(.*$")
    bound = re.findall(r"'(\w+)'", call.split("->")[0])
    assert "get_store_hours" in bound
    catalog = re.findall(r"'(\w+)'", _line(out, r"^catalog: .*$"))
    assert len(set(bound) - {"find_tools"}) < len(catalog)  # a subset of the catalog
    before, after = map(int, re.findall(r"tool_selection (\d+)->(\d+)", out)[0])
    assert after < before
    _line(out, r"^  tokens per step: cache \d+->0$")  # the repeat: nothing sent to a model
    _line(out, r"^  hit=True +acme ")
    _line(out, r"^  hit=False +globex ")


def test_compose_runnables_shows_prompt_history_and_tools() -> None:
    out = _run("compose_runnables.py")
    system = out.split("compressed system prompt:", 1)[1].split("optimized history:", 1)[0]
    assert "Boots and shoes can be returned within 60 days" in system
    assert "Loyalty points" not in system  # compressed: an irrelevant rule is gone
    kept = int(_line(out, r"^optimized history: (\d+) messages").split()[2])
    assert kept < 60  # the 60 earlier messages were fitted into the budget
    _line(out, r"^  human +'Can I return hiking boots I only wore indoors\?'\ntools bound:")
    _line(out, r"^tools bound: \[.*\] \(\d+ of \d+ schema tokens\)$")
