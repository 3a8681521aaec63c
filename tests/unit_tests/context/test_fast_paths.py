"""The fast paths of the context optimizer give the same answers as the plain ones."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_tokenopt.context._memo import ContextMemo
from langchain_tokenopt.tokens import TokenCounter

from .helpers import conversation


def _reference_extract_facts(text: str) -> list[str]:
    """The plain (slow) form of ``extract_facts``, kept here as its specification."""
    from langchain_tokenopt.context.facts import _FACT_RE, _STOP_CODES

    seen: dict[str, None] = {}
    for match in _FACT_RE.finditer(text):
        token = match.group(0).strip().rstrip(".,;:")
        if len(token) < 2 or token in _STOP_CODES or token in seen:
            continue
        if text[match.end() : match.end() + 2] == '":':
            continue  # a JSON key, not a value
        seen[token] = None
    return list(seen)


def test_count_each_equals_count_message() -> None:
    counter = TokenCounter("gpt-4o")
    messages = [
        *conversation(turns=3, size=30),
        HumanMessage([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": "x"}]),
        AIMessage(
            "",
            tool_calls=[{"id": "c9", "name": "search", "args": {"q": "ZFA04Y héllo"}}],
            invalid_tool_calls=[{"id": "c10", "name": "bad", "args": "{oops", "error": None}],
        ),
        ToolMessage(json.dumps({"ok": True}), tool_call_id="c9", name="search"),
        SystemMessage(["plain block", {"type": "other", "value": 3}]),
        HumanMessage(""),
    ]
    assert counter.count_each(messages) == [counter.count_message(m) for m in messages]
    assert counter.count_each([]) == []


TRICKY = [
    "User mia_li_3668 booked ZFA04Y on 2024-05-20 for $1,234.50 (a@b.com)",
    "xhttps://foo.com/a and https://a.b/c?d=1. then HAT170 JFK I OK USD",
    "check-in at 10:30 AM, 9:05pm, Mc.Donald+x@y.z, end. e.g. word-12 a.b@c.d",
    "é1 ü_x ÀB café_9 £ 5 € 3,000.00 -5 .5 12:30:45 2024-01-01T10:00 5-5-5",
    '{"reservation_id": "4WQ150", "flight_type": "round_trip", "2024-05-01": 3, "x_1": [12]}',
    '{"abc-1x": 3, "a__b_9": "ab__CD", "price": 123.45, "email": "omar.r@example.com"}',
    "plain prose without a single fact in it, only words.",
    "",
]


def test_fast_fact_scan_matches_the_reference() -> None:
    from langchain_tokenopt.context.facts import extract_facts

    history = conversation(turns=4, size=25)
    texts = [*TRICKY, *(str(m.content) for m in history)]
    for text in texts:
        assert extract_facts(text) == _reference_extract_facts(text), text
        assert extract_facts(text, limit=3) == _reference_extract_facts(text)[:3]
    long_text = " ".join(TRICKY) * 200  # over the memoized size: scanned directly
    assert extract_facts(long_text) == _reference_extract_facts(long_text)


# Characters every fact alternative is made of, and the ones that end or break a fact.
_FACT_ALPHABET = 'aZbXe_9 0@.$€£:-/hHtTpPsSmM\n",{}[]é٣'


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_FACT_ALPHABET, max_size=60))
def test_fast_fact_scan_matches_the_reference_on_random_text(text: str) -> None:
    # Covers the cheap pre-check too: a text it rejects must have no fact in the reference.
    from langchain_tokenopt.context.facts import extract_facts

    assert extract_facts(text) == _reference_extract_facts(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "I",
                "WILL",
                "Would Like",
                "prefer",
                "Don't",
                "never",
                "yes",
                "Going to",
                "booked",
                "x",
                "cancelled",
                "unwilling",
                "Yesterday",
                "5",
                "ID",
            ]
        ),
        max_size=8,
    ),
    st.sampled_from(["User: ", "Assistant: ", "Called ", "Tool t -> ", ""]),
)
def test_line_score_markers_match_the_case_insensitive_patterns(
    words: list[str], prefix: str
) -> None:
    from langchain_tokenopt.context.facts import DECISION_RE, PREFERENCE_RE
    from langchain_tokenopt.context.summarize import _line_score, line_facts

    line = prefix + " ".join(words)
    expected = min(len(line_facts(line)), 4) * 1.0
    if line.startswith("Called "):
        expected += 4.0
    elif line.startswith("User: "):
        expected += 2.0 + (1.5 if PREFERENCE_RE.search(line) else 0.0)
    elif line.startswith("Tool "):
        expected += 1.5
    elif line.startswith("Assistant: "):
        expected -= 1.0
    expected += 1.0 if DECISION_RE.search(line) else 0.0
    assert _line_score(line) == expected


def test_each_optimizer_owns_its_memo_and_clears_it() -> None:
    from langchain_tokenopt import ContextOptimizer
    from langchain_tokenopt.context.facts import _message_facts, message_facts

    counter = TokenCounter("gpt-4o")
    history = conversation(turns=6, size=40)
    budget = counter.count_messages(history) // 3
    one = ContextOptimizer(max_tokens=budget, counter=counter)
    two = ContextOptimizer(max_tokens=budget, counter=counter)
    first = one.invoke(history)
    assert len(one.memo) > 0 and len(two.memo) == 0  # nothing shared between optimizers
    assert one.with_max_tokens(budget + 100).memo is one.memo  # its copies share it
    assert two.invoke(history) == first
    one.clear_caches()
    assert len(one.memo) == 0
    assert one.invoke(history) == first  # the same answer from a cold memo
    # Outside an optimizer the helpers compute without remembering anything.
    assert message_facts(history[1]) == _message_facts(history[1])
    memo = ContextMemo()
    assert memo.count_texts(counter, ["one line", "one line"]) == [2, 2]
    assert len(memo) == 1
    memo.clear()
    assert len(memo) == 0


def test_no_module_level_mutable_tables_in_context() -> None:
    import collections
    import importlib
    import pkgutil

    import langchain_tokenopt.context as context

    # Pure functions of one string may keep an lru_cache: a memo cannot change their result.
    pure = {
        ("langchain_tokenopt.context.facts", "_scan"),
        ("langchain_tokenopt.context.facts", "fact_rank"),
    }
    found = []
    for info in pkgutil.walk_packages(context.__path__, context.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            table = isinstance(value, dict | list | set | bytearray | collections.deque)
            memoized = hasattr(value, "cache_info") and getattr(value, "__module__", "") == (
                info.name
            )
            if table or (memoized and (info.name, name) not in pure):
                found.append((info.name, name))
    assert found == []


def test_memo_is_shared_by_deserialized_copies() -> None:
    from langchain_core.messages import messages_from_dict, messages_to_dict

    from langchain_tokenopt import ContextOptimizer

    from .helpers import call

    table = ContextMemo()
    memo, message_key = table.get, table.message_key

    history = conversation(turns=4, size=30)
    copies = messages_from_dict(json.loads(json.dumps(messages_to_dict(history))))
    assert all(a is not b for a, b in zip(history, copies, strict=True))
    assert [message_key(m) for m in history] == [message_key(m) for m in copies]
    token = object()
    assert memo("test-shared", history[3], lambda: token) is token
    assert memo("test-shared", copies[3], object) is token  # computed once for both
    # Any change of content, tool-call arguments or tool-call id gives another key.
    longer = copies[3].model_copy(update={"content": str(copies[3].content) + " "})
    assert message_key(longer) != message_key(copies[3])
    one = AIMessage("", tool_calls=[call("c1", reservation_id="AAA111")])
    two = AIMessage("", tool_calls=[call("c1", reservation_id="BBB222")])
    assert message_key(one) != message_key(two)
    other_call = ToolMessage(str(copies[3].content), tool_call_id="zz", name=copies[3].name)
    assert message_key(other_call) != message_key(copies[3])
    optimizer = ContextOptimizer(max_tokens=TokenCounter().count_messages(history) // 2)
    assert optimizer.invoke(copies) == optimizer.invoke(history)


def test_memo_sees_content_edited_in_place() -> None:
    table = ContextMemo()
    memo, count_each = table.get, table.count_each
    msg = HumanMessage("reservation ZFA04Y")
    assert memo("test-edit", msg, lambda: 1) == 1
    assert memo("test-edit", msg, lambda: 2) == 1
    msg.content = "reservation ZFA04Y and HAT170"
    assert memo("test-edit", msg, lambda: 3) == 3
    counter = TokenCounter("gpt-4o")
    assert count_each(counter, [msg]) == [counter.count_message(msg)]


def test_transcript_lines_reuse_their_message_facts() -> None:
    from langchain_tokenopt.context.facts import message_facts
    from langchain_tokenopt.context.summarize import line_facts, render_transcript

    history = conversation(turns=3, size=20)[1:]
    with ContextMemo().active():  # as inside an optimizer: rendering notes the line facts
        transcript = render_transcript(history)
        every_fact = {f for m in history for f in message_facts(m)}
        for line in transcript.splitlines():
            known = line_facts(line)
            assert all(f in line and f in every_fact for f in known), line
        called = next(line for line in transcript.splitlines() if line.startswith("Called "))
        assert "C0" in line_facts(called)
        tool = next(line for line in transcript.splitlines() if line.startswith("Tool "))
        assert "get_reservation_details" not in line_facts(tool)  # a tool name is not a fact
        assert "HAT100" in line_facts(tool)


def test_message_facts_scan_text_and_calls_apart_with_the_same_result() -> None:
    from langchain_tokenopt.context.facts import message_facts, message_text

    from .helpers import call

    history = [
        *conversation(turns=2, size=10),
        AIMessage(
            "Booking ZFA04Y for 2024-05-20 at 10:30 AM, $1,234.50.",
            tool_calls=[call("c7", name="book_reservation", user_id="mia_li_3668")],
        ),
    ]
    for msg in history:
        assert list(message_facts(msg)) == _reference_extract_facts(message_text(msg))
