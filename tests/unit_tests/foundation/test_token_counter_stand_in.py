"""An unknown model is counted with o200k_base as a stand-in, and says so once."""

from __future__ import annotations

import logging
import uuid

import pytest

from langchain_tokenopt import TokenCounter

LOGGER = "langchain_tokenopt.tokens"


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_unknown_model_warns_once_and_keeps_the_o200k_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = f"no-such-model-{uuid.uuid4().hex[:6]}"  # a name no other test has warned about
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        counters = [TokenCounter(model) for _ in range(3)]
    assert {c.encoding_name for c in counters} == {"o200k_base"}
    assert counters[0].count("Hello world") == TokenCounter("gpt-4o").count("Hello world")
    lines = _lines(caplog)
    assert len(lines) == 1, lines
    assert repr(model) in lines[0]
    assert "o200k_base as a stand-in" in lines[0]
    assert "encoding=" in lines[0]


def test_each_unknown_model_warns_for_itself(caplog: pytest.LogCaptureFixture) -> None:
    first, second = (f"local-model-{uuid.uuid4().hex[:6]}" for _ in range(2))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenCounter(first)
        TokenCounter(second)
        TokenCounter(first)
    lines = _lines(caplog)
    assert len(lines) == 2, lines
    assert repr(first) in lines[0] and repr(second) in lines[1]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", None),
        ("openai:gpt-4.1-mini", None),
        ("gpt-3.5-turbo", None),
        (None, None),
        ("", None),
        (f"my-llama-{uuid.uuid4().hex[:6]}", "cl100k_base"),
    ],
)
def test_known_models_and_explicit_encodings_do_not_warn(
    model: str | None, encoding: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        TokenCounter(model, encoding=encoding)
    assert _lines(caplog) == []


def test_the_docstring_documents_the_fallback() -> None:
    doc = TokenCounter.__doc__ or ""
    assert "o200k_base" in doc and "stand-in" in doc and "warning" in doc
