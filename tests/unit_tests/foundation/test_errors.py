from __future__ import annotations

import pytest

from langchain_tokenopt import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.TokenOptConfigError, ValueError),
        (errors.MissingDependencyError, ImportError),
        (errors.AssetError, RuntimeError),
        (errors.TokenCountError, ValueError),
        (errors.CacheError, RuntimeError),
        (errors.CacheStorageError, OSError),
        (errors.BackendUnavailableError, ConnectionError),
        (errors.ToolSelectionError, ValueError),
        (errors.CompressionError, ValueError),
        (errors.ContextError, ValueError),
        (errors.InvalidHistoryError, ValueError),
        (errors.BudgetExceededError, ValueError),
        (errors.MonitoringError, RuntimeError),
    ],
)
def test_every_error_is_a_tokenopt_error_and_its_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.TokenOptError)
    assert issubclass(cls, builtin)


def test_every_exported_error_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, name


def test_missing_dependency_message_names_the_extra() -> None:
    exc = errors.MissingDependencyError("redis-py", extra="redis")
    assert 'pip install "langchain-tokenopt[redis]"' in str(exc)
    assert exc.extra == "redis"
    with pytest.raises(ValueError):
        errors.MissingDependencyError("x")


def test_invalid_history_lists_problems() -> None:
    exc = errors.InvalidHistoryError(["orphan tool result call_1", "unanswered call call_2"])
    assert exc.problems == ["orphan tool result call_1", "unanswered call call_2"]
    assert "call_2" in str(exc)
