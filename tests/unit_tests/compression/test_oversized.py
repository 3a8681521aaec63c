"""One unit larger than the budget: keep what fits, never exceed it, never cut a protected span."""

from __future__ import annotations

import itertools
import re

import pytest

from langchain_tokenopt.compression import QueryAwareCompressor
from langchain_tokenopt.compression.segmentation import segment
from langchain_tokenopt.compression.splitting import split_oversized
from langchain_tokenopt.tokens import TokenCounter

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _one_huge_sentence() -> str:
    # A single "sentence": no sentence break anywhere, about 3,000 tokens.
    parts = [
        f"the river number {i} flows past town {i} with record id "
        f"{i:08x}-1111-4222-8333-{i:012x} and https://example.org/river/{i}"
        for i in range(120)
    ]
    parts.insert(77, "the secret vault code is 7731-ALPHA and the vault sits under the old mill")
    return ", ".join(parts) + "."


@pytest.mark.parametrize("budget", [12, 40, 100, 400])
def test_single_sentence_over_budget_keeps_what_fits(budget: int) -> None:
    text = _one_huge_sentence()
    counter = TokenCounter()
    assert len(segment([text]).items) == 1 and counter.count(text) > 2000
    result = QueryAwareCompressor(target_tokens=budget).invoke(
        {"context": text, "question": "What is the secret vault code?"}
    )
    assert result.text, "must keep what fits, not return an empty result"
    assert result.tokens_after == counter.count(result.text) <= budget
    assert result.tokens_after >= budget // 3
    if budget >= 40:
        assert "7731-ALPHA" in result.text
    # kept words are the input's words in their order; protected spans are whole
    words = iter(text.split())
    assert all(any(w == v for v in words) for w in result.text.split())
    urls = {u.rstrip(",.") for u in re.findall(r"https://\S+", text)}
    assert {u.rstrip(",.") for u in re.findall(r"https://\S+", result.text)} <= urls
    ids = set(UUID.findall(text))
    for word in result.text.split():
        if "-1111-" in word:
            assert word.rstrip(",.") in ids


def test_unbroken_text_over_budget_is_cut_not_dropped() -> None:
    counter = TokenCounter()
    word = "abcdefghij" * 600  # one 6,000-character "word", no spaces, nothing protected
    result = QueryAwareCompressor(target_tokens=50).invoke({"context": word, "question": "x"})
    assert 0 < result.tokens_after == counter.count(result.text) <= 50
    # non-adjacent windows are joined by a space, each window is an exact slice
    assert all(piece in word for piece in result.text.split(" "))


def test_protected_unit_larger_than_budget_is_dropped_whole_with_a_warning() -> None:
    fence = "```python\n" + "\n".join(f"x_{i} = {i} * 2" for i in range(200)) + "\n```"
    result = QueryAwareCompressor(target_tokens=30).invoke({"context": fence, "question": "x_5"})
    assert result.text == "" and result.tokens_after == 0
    assert any("nothing fits" in w for w in result.warnings)


def test_split_oversized_respects_limit_and_offsets() -> None:
    counter = TokenCounter()
    text = _one_huge_sentence()
    seg = segment([text])
    counts = counter.count_batch([i.text for i in seg.items])
    split, new_counts = split_oversized(seg, counts, trigger=64, limit=32, counter=counter)
    assert len(split.items) > 50
    assert [i.index for i in split.items] == list(range(len(split.items)))
    for item, tokens in zip(split.items, new_counts, strict=True):
        assert text[item.start : item.end] == item.text
        assert tokens == counter.count(item.text)
        assert tokens <= 32 or UUID.fullmatch(item.text) or item.text.startswith("https://")
    assert split_oversized(seg, counts, trigger=10_000, limit=32, counter=counter)[0] is seg


def test_few_shot_fill_keeps_the_most_whole_demonstrations() -> None:
    counter = TokenCounter()
    demos = []
    for i in range(8):
        steps = "\n".join(f"Step {k}: add {k + i} to the total." for k in range(2 + (i % 4) * 4))
        demos.append(
            f"Question: Sam has {i + 3} marbles and finds {i + 4} more. How many marbles?\n"
            f"{steps}\nThe answer is {2 * i + 7}"
        )
    prompt = "\n\n".join(demos)
    budget = counter.count(prompt) // 3
    result = QueryAwareCompressor(target_tokens=budget).invoke(
        {"context": prompt, "question": "Sam has 6 marbles and finds 9 more. How many marbles?"}
    )
    kept = result.text.split("\n\n")
    assert all(block in demos for block in kept)
    assert result.tokens_after <= budget
    sizes = [counter.count(d) + 1 for d in demos]
    most = max(
        k
        for k in range(len(demos) + 1)
        for combo in itertools.combinations(sizes, k)
        if sum(combo) <= budget
    )
    assert len(kept) == most
