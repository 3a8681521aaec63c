from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from examples.tokenopt_demo import (
    DEFAULT_FAMILIES,
    Workload,
    build_request,
    compare_families,
    find_workload_dir,
    load_workload,
    request_breakdown,
)
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

REPO = Path(__file__).resolve().parents[3]
WORKLOAD_DIR = REPO / "examples" / "workload"


@pytest.fixture(scope="module")
def workload() -> Workload:
    return load_workload(WORKLOAD_DIR)


def test_history_messages_are_real_and_every_tool_call_is_answered(workload: Workload) -> None:
    history = workload.history
    assert isinstance(history[0], HumanMessage)
    assert {type(m) for m in history} == {HumanMessage, AIMessage, ToolMessage}
    call_ids = [c["id"] for m in history if isinstance(m, AIMessage) for c in m.tool_calls]
    result_ids = [m.tool_call_id for m in history if isinstance(m, ToolMessage)]
    assert len(call_ids) == len(set(call_ids))
    assert sorted(call_ids) == sorted(result_ids)
    # each result comes after its call
    seen: set[str] = set()
    for m in history:
        if isinstance(m, AIMessage):
            seen.update(c["id"] for c in m.tool_calls)
        elif isinstance(m, ToolMessage):
            assert m.tool_call_id in seen
    # single and parallel calls, and one error result
    sizes = [len(m.tool_calls) for m in history if isinstance(m, AIMessage) and m.tool_calls]
    assert 1 in sizes and max(sizes) >= 3
    assert any(isinstance(m, ToolMessage) and m.status == "error" for m in history)
    names = set(workload.tool_names())
    assert all(
        c["name"] in names for m in history if isinstance(m, AIMessage) for c in m.tool_calls
    )


def test_tools_are_many_unique_and_spread_over_domains(workload: Workload) -> None:
    names = workload.tool_names()
    assert len(names) >= 100
    assert len(set(names)) == len(names)
    assert set(workload.tool_domains) == set(names)
    assert len(set(workload.tool_domains.values())) >= 8
    for tool in workload.tools:
        fn = tool["function"]
        assert tool["type"] == "function" and fn["description"]
        params = fn["parameters"]
        assert params["type"] == "object"
        assert set(params.get("required", [])) <= set(params["properties"])


def test_sizes_match_the_brief(workload: Workload) -> None:
    counter = TokenCounter("gpt-4o")
    prompt = counter.count(workload.system_prompt)
    assert 7_000 <= prompt <= 13_000
    assert 40_000 <= counter.count_messages(list(workload.history)) <= 55_000
    modules = workload.modules
    assert modules[0].name == "core" and modules[0].cache_breakpoint and modules[0].always_include
    assert sum(m.cache_breakpoint for m in modules) == 1
    assert len({m.name for m in modules}) == len(modules) >= 10
    # varied prose: no module is one sentence repeated
    for m in modules:
        sentences = [s.strip() for s in m.content.split(".") if len(s.strip()) > 20]
        assert len(set(sentences)) >= 0.9 * len(sentences)


def test_question_stream(workload: Workload) -> None:
    questions = workload.questions
    assert len(questions) >= 50
    kinds = {q.kind for q in questions}
    assert kinds == {"new", "exact_repeat", "paraphrase", "follow_up"}
    assert {q.tenant_id for q in questions} == {"acme", "globex"}
    order = {q.id: i for i, q in enumerate(questions)}
    tools = set(workload.tool_names())
    for q in questions:
        assert set(q.expected_tools) <= tools
        if q.kind in ("exact_repeat", "paraphrase"):
            assert q.repeats is not None and order[q.repeats] < order[q.id]
            original = workload.question(q.repeats)
            if q.kind == "exact_repeat":
                assert q.text == original.text
            else:
                assert q.text != original.text
            servable = all(t in workload.cacheable_tools for t in original.expected_tools)
            assert q.expect_cache_hit == (original.tenant_id == q.tenant_id and servable)
        elif q.kind == "follow_up":
            assert q.follows is not None and order[q.follows] < order[q.id]
            assert workload.question(q.follows).conversation_id == q.conversation_id
            assert not q.expect_cache_hit
        else:
            assert q.repeats is None and not q.expect_cache_hit
    # the must-miss cases exist
    assert any(
        q.kind == "exact_repeat" and workload.question(q.repeats or "").tenant_id != q.tenant_id
        for q in questions
    )
    cross_conv = [q for q in questions if q.kind == "follow_up" and q.repeats]
    assert cross_conv
    for q in cross_conv:
        other = workload.question(q.repeats or "")
        assert other.text == q.text and other.conversation_id != q.conversation_id
    assert any(q.conversation_id == workload.history_conversation_id for q in questions)


def test_repeats_of_tool_questions_hit_only_when_their_tools_are_cacheable(
    workload: Workload,
) -> None:
    cacheable = workload.cacheable_tools
    assert set(cacheable) <= set(workload.tool_names())
    assert all(ttl > 0 for ttl in cacheable.values())
    # read-only reference data is declared; bookings, changes and live reads are not
    assert {"get_weather_forecast", "get_size_chart", "get_policy_document"} <= set(cacheable)
    for name in ("book_rental", "reorder", "unsubscribe_customer", "cancel_order", "get_order"):
        assert name not in cacheable
    for name in ("track_shipment", "check_inventory", "get_loyalty_account", "get_on_call"):
        assert name not in cacheable
    same_tenant = [
        q
        for q in workload.questions
        if q.kind in ("exact_repeat", "paraphrase")
        and workload.question(q.repeats or "").tenant_id == q.tenant_id
    ]
    live = {q.id for q in same_tenant if not q.expect_cache_hit}
    assert live == {"q35", "q40", "q46", "q51", "q58"}  # on-call, points, stock, unsubscribe, order
    assert any(q.expect_cache_hit and q.expected_tools for q in same_tenant)  # forecast, reports
    assert sum(q.expect_cache_hit for q in workload.questions) == 20
    doc = json.loads((workload.path / "questions.json").read_text(encoding="utf-8"))
    assert doc["achievable_hit_rate"] == round(20 / len(workload.questions), 3)
    for q in workload.questions:
        assert set(q.expected_args) <= set(q.expected_tools)
    assert dict(workload.question("q13").expected_args["reorder"]) == {"order_id": "NW-4799810"}


def test_breakdown_adds_up_to_the_whole_request(workload: Workload) -> None:
    results = compare_families(workload)
    assert [b.family for b in results] == list(DEFAULT_FAMILIES)
    assert [b.encoding for b in results] == ["o200k_base", "cl100k_base", "o200k_base"]
    messages, tools = build_request(workload)
    assert isinstance(messages[0], SystemMessage) and isinstance(messages[-1], HumanMessage)
    for b in results:
        counter = TokenCounter(b.family.model)
        whole = counter.count_messages(messages) + counter.count_tools(tools)
        assert b.total == whole
        assert sum(p.tokens for p in b.parts) == whole
        assert sum(b.section_totals().values()) == whole
        assert all(p.tokens >= 0 for p in b.parts)
        assert [p.name for p in b.rows("system")] == [m.name for m in workload.modules]
        assert sum(p.items for p in b.rows("tools")) == len(workload.tools)
        assert b.messages == len(messages)
        assert sum(p.tokens for p in b.rows("system")) == counter.count(workload.system_prompt)
        assert sum(p.tokens for p in b.rows("tools")) + 12 == counter.count_tools(tools)
        assert b.share("history") > 0.5
    # the two OpenAI encodings really differ somewhere
    assert results[0].total != results[1].total


def test_breakdown_for_another_question_and_model(workload: Workload) -> None:
    q = workload.question("q15")
    b = request_breakdown(workload, model="gpt-4.1", question="q15")
    assert b.question_id == "q15" and b.encoding == "o200k_base"
    assert b.rows("question")[0].tokens == TokenCounter("gpt-4o").count(q.text)
    with pytest.raises(TokenOptConfigError):
        request_breakdown(workload, question="q999")
    with pytest.raises(TokenOptConfigError):
        b.share("nope")


def test_load_workload_finds_the_default_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TOKENOPT_WORKLOAD_DIR", raising=False)
    monkeypatch.chdir(REPO / "tests")
    assert find_workload_dir() == WORKLOAD_DIR.resolve()
    monkeypatch.chdir(tmp_path)  # outside the repo: falls back to the source checkout
    assert find_workload_dir() == WORKLOAD_DIR.resolve()
    assert load_workload(REPO).path == WORKLOAD_DIR.resolve()


def test_load_workload_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(TokenOptConfigError, match="not a workload folder"):
        load_workload(tmp_path)
    for name in ("system_prompt.json", "tools.json", "history.json", "questions.json"):
        shutil.copy(WORKLOAD_DIR / name, tmp_path / name)
    (tmp_path / "tools.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenOptConfigError, match="cannot read workload file"):
        load_workload(tmp_path)
    shutil.copy(WORKLOAD_DIR / "tools.json", tmp_path / "tools.json")
    history = json.loads((WORKLOAD_DIR / "history.json").read_text(encoding="utf-8"))
    history["messages"] = [m for m in history["messages"] if m["type"] != "tool"][:6]
    (tmp_path / "history.json").write_text(json.dumps(history), encoding="utf-8")
    with pytest.raises(TokenOptConfigError, match="has no result"):
        load_workload(tmp_path)


def test_committed_files_are_what_generate_py_produces(tmp_path: Path) -> None:
    script = WORKLOAD_DIR / "generate.py"
    run = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    for name in ("system_prompt.json", "tools.json", "history.json", "questions.json"):
        assert (tmp_path / name).read_bytes() == (WORKLOAD_DIR / name).read_bytes()


def test_demo_package_stays_light() -> None:
    code = (
        "import sys, examples.tokenopt_demo as d\n"
        "d.compare_families(d.load_workload())\n"
        "heavy = ('rich', 'torch', 'transformers', 'redis', 'sentence_transformers')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
