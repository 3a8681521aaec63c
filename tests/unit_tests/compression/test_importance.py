from __future__ import annotations

import math

import pytest
from langchain_core.documents import Document

from langchain_tokenopt.compression import QueryAwareCompressor, TokenImportanceScorer
from langchain_tokenopt.compression.protected import find_protected_spans
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter

pytestmark = pytest.mark.requires_lm


@pytest.fixture(scope="module")
def scorer() -> TokenImportanceScorer:
    return TokenImportanceScorer(window_tokens=128, batch_size=4, max_seconds=20.0)


def test_surprisal_per_token(scorer: TokenImportanceScorer) -> None:
    text = "The capital of France is Paris. The capital of France is Paris."
    imp = scorer.score(text)
    assert imp.complete and len(imp.surprisal) == len(imp.offsets) > 10
    assert math.isinf(imp.surprisal[0])
    finite = imp.surprisal[1:]
    assert all(math.isfinite(v) and v >= 0 for v in finite)  # only the first token has no context
    half = len(finite) // 2
    # the repeated sentence is far more predictable the second time
    assert sum(finite[half + 1 :]) < sum(finite[: half - 1])
    words = imp.word_scores()
    assert [text[a:b] for a, b, _ in words] == text.split()


def test_time_bound_leaves_rest_unscored() -> None:
    quick = TokenImportanceScorer(window_tokens=16, batch_size=1, max_seconds=1e-9)
    imp = quick.score("one two three four five six seven eight nine ten " * 10)
    assert not imp.complete and all(math.isinf(v) for v in imp.surprisal)


def test_fine_stage_meets_budget_and_keeps_protected(
    scorer: TokenImportanceScorer, documents: list[Document]
) -> None:
    budget = 90
    result = QueryAwareCompressor(target_tokens=budget, importance=scorer).invoke(
        {"context": documents, "question": "When was the Eiffel Tower completed?"}
    )
    assert result.method == "query_aware+importance"
    assert TokenCounter().count(result.text) == result.tokens_after <= budget
    source = "\n\n".join(d.page_content for d in documents)
    for span in find_protected_spans(result.text):
        if span.kind in ("url", "uuid", "number"):
            assert result.text[span.start : span.end] in source
    assert "1889" in result.text


def test_config_errors() -> None:
    with pytest.raises(TokenOptConfigError):
        TokenImportanceScorer(window_tokens=4)
    with pytest.raises(TokenOptConfigError):
        TokenImportanceScorer(max_seconds=0)
