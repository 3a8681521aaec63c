"""LocalChatModel(max_sentences=...) and call-time ``stop`` end generation itself, early."""

from __future__ import annotations

import re

import pytest

from langchain_tokenopt.llms import LocalChatModel

QUESTION = "How long do I have to return hiking boots I've only worn indoors?"


@pytest.fixture(scope="module")
def unlimited() -> tuple[str, int]:
    answer = LocalChatModel(max_new_tokens=40, dtype="bfloat16").invoke(QUESTION)
    assert answer.usage_metadata is not None
    return str(answer.content), answer.usage_metadata["output_tokens"]


@pytest.mark.parametrize("sentences", [1, 2])
def test_max_sentences_ends_on_a_full_sentence_and_stops_decoding(
    unlimited: tuple[str, int], sentences: int
) -> None:
    full, full_tokens = unlimited
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", full)]
    assert len(ends) >= sentences, full  # the unlimited answer runs on past them
    model = LocalChatModel(max_new_tokens=40, dtype="bfloat16", max_sentences=sentences)
    answer = model.invoke(QUESTION)
    # Greedy: the same words as the unlimited answer, cut right after the sentence end.
    assert answer.content == full[: ends[sentences - 1]]
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] < full_tokens


def test_call_time_stop_halts_generation(unlimited: tuple[str, int]) -> None:
    full, full_tokens = unlimited
    answer = LocalChatModel(max_new_tokens=40, dtype="bfloat16").invoke(QUESTION, stop=["."])
    assert answer.content == full[: full.index(".")]
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] < full_tokens


def test_max_sentences_is_validated() -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        LocalChatModel(max_sentences=0)
