"""The local torch models share one check of ``num_threads`` / ``dtype`` and one thread setter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from langchain_tokenopt._assets import (
    check_dtype,
    check_num_threads,
    load_smollm2,
    use_torch_threads,
)
from langchain_tokenopt.compression.importance import TokenImportanceScorer
from langchain_tokenopt.compression.lingua import LLMLinguaCompressor
from langchain_tokenopt.embeddings import LocalEmbeddings
from langchain_tokenopt.errors import TokenOptConfigError


@pytest.fixture
def torch_module() -> Iterator[Any]:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_every_local_model_rejects_the_same_bad_thread_counts(bad: Any) -> None:
    makers = [
        lambda: LocalEmbeddings(num_threads=bad),
        lambda: TokenImportanceScorer(num_threads=bad),
        lambda: LLMLinguaCompressor(target_tokens=10, num_threads=bad),
    ]
    for make in makers:
        with pytest.raises(TokenOptConfigError, match="num_threads must be a positive int or None"):
            make()


@pytest.mark.parametrize("bad", ["float16", "fp32", None])
def test_every_local_model_rejects_the_same_bad_dtypes(bad: Any) -> None:
    makers = [
        lambda: TokenImportanceScorer(dtype=bad),
        lambda: LLMLinguaCompressor(target_tokens=10, dtype=bad),
        lambda: load_smollm2(dtype=bad),
    ]
    for make in makers:
        with pytest.raises(TokenOptConfigError, match="dtype must be 'float32' or 'bfloat16'"):
            make()
    assert check_dtype("bfloat16") == "bfloat16"


def test_a_valid_count_or_none_is_kept() -> None:
    assert check_num_threads(3) == 3
    assert check_num_threads(None) is None
    assert LocalEmbeddings(num_threads=None).num_threads is None
    assert TokenImportanceScorer(num_threads=2).num_threads == 2


def test_use_torch_threads_sets_the_count_and_none_leaves_it(torch_module: Any) -> None:
    torch_module.set_num_threads(2)
    use_torch_threads(None)
    assert torch_module.get_num_threads() == 2
    use_torch_threads(1)
    assert torch_module.get_num_threads() == 1
