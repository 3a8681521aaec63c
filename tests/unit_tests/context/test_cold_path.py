"""The first call on a long thread reads only what it keeps (and gives the same answers)."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from langchain_tokenopt import ContextOptimizer
from langchain_tokenopt.context import (
    HierarchicalSummary,
    MaskToolOutputs,
    find_problems,
)
from langchain_tokenopt.context.strategies.base import Plan, Slot
from langchain_tokenopt.context.units import split_units
from langchain_tokenopt.tokens import TokenCounter

from .helpers import conversation


def _summary_text(messages: list) -> str:
    return next(str(m.content) for m in messages[1:] if m.type == "system")


def test_long_history_counts_its_oldest_messages_only_when_asked() -> None:
    from langchain_tokenopt.context._memo import _COUNT_TAGS

    counter = TokenCounter("gpt-4o")
    history = conversation(turns=60, size=40)
    total = counter.count_messages(history)
    optimizer = ContextOptimizer(max_tokens=total // 10, counter=counter)  # an empty memo
    _by_object = optimizer.memo._by_object
    result = optimizer.optimize(history)
    assert not find_problems(result.messages)
    assert counter.count_messages(result.messages) == result.tokens_after <= total // 10
    tag = _COUNT_TAGS[counter.encoding_name]
    oldest_reply = history[4]  # an assistant answer far behind the window: never read
    assert (tag, id(oldest_reply)) not in _by_object
    assert result.tokens_before == total  # counted on first access, exactly
    assert (tag, id(oldest_reply)) in _by_object
    # The same call with every memo warm gives the same history.
    assert optimizer.optimize(history).messages == result.messages


def test_a_deferred_rewrite_is_built_once_and_only_when_read() -> None:
    counter = TokenCounter("gpt-4o")
    history = conversation(turns=4, size=30)
    units = split_units(history)
    slots = [
        Slot(u, list(u.messages), sum(counter.count_each(list(u.messages))), i)
        for i, u in enumerate(units[1:])
    ]
    plan = Plan(
        system=[history[0]],
        slots=slots,
        budget=10_000,
        counter=counter,
        query="",
        require_human_first=True,
    )
    exact = plan.total
    built: list[int] = []

    def rewrite(slot: Slot) -> list:
        def build() -> list:
            built.append(slot.position)
            return [AIMessage("short", id=slot.unit.head.id)]

        return build

    first, second = slots[1], slots[5]
    plan.defer(first, rewrite(first), 1)
    plan.defer(second, rewrite(second), 1)
    assert not built and first.pending
    plan.drop(second)  # dropped while pending: never built
    assert plan.fits and built == [first.position]  # the bound left it open: built exactly
    assert first.messages[0].content == "short" and not first.pending
    assert plan.total == exact - sum(counter.count_each(list(first.unit.messages))) - (
        sum(counter.count_each(list(second.unit.messages)))
    ) + counter.count_message(first.messages[0])
    first.tokens  # noqa: B018 - reading again builds nothing
    assert built == [first.position] and second.pending


def test_far_history_is_read_as_a_digest() -> None:
    counter = TokenCounter("gpt-4o")
    history = conversation(turns=30, size=40)
    history[5] = HumanMessage("I prefer window seats, my member id is GOLD4471", id="pref")
    budget = counter.count_messages(history) // 8

    def run(detail: int | None) -> list:
        step = HierarchicalSummary(detail_tokens=detail)
        optimizer = ContextOptimizer(
            max_tokens=budget, counter=counter, strategies=[MaskToolOutputs(), step]
        )
        return optimizer.invoke(history)

    digest = _summary_text(run(0))
    assert not any(line.startswith(("Tool ", "Assistant:")) for line in digest.splitlines())
    assert "Called get_reservation_details" in digest or "Facts:" in digest
    full = _summary_text(run(None))
    assert full != digest
    # Short histories (under detail_tokens) are read in full: the default changes nothing.
    short = conversation(turns=6, size=40)
    budget = counter.count_messages(short) // 3
    default = ContextOptimizer(max_tokens=budget, counter=counter).invoke(short)
    everything = ContextOptimizer(
        max_tokens=budget,
        counter=counter,
        strategies=[MaskToolOutputs(), HierarchicalSummary(detail_tokens=None)],
    ).invoke(short)
    assert default == everything


def test_prose_mentions_are_its_words() -> None:
    from langchain_tokenopt.context.strategies.mask import mentions

    from .helpers import call

    msg = AIMessage(
        'Your flight HAT188. costs $1,234.50, see "ZFA04Y" (gift_card_6847880): ok? mia_li_3668!',
        tool_calls=[call("c1", reservation_id="XEWRD9")],
    )
    found = mentions(msg)
    for fact in ("HAT188", "$1,234.50", "ZFA04Y", "gift_card_6847880", "mia_li_3668", "XEWRD9"):
        assert fact in found, fact
