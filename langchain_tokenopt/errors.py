"""Exceptions raised by langchain-tokenopt.

Every error the package raises on purpose derives from :class:`TokenOptError`, and each
subclass also inherits the built-in exception it resembles, so ``except ValueError`` keeps
working in users' code::

    TokenOptError
    ├── TokenOptConfigError (ValueError)       invalid keyword argument or config value
    ├── MissingDependencyError (ImportError)   an optional extra or offline asset is absent
    ├── AssetError (RuntimeError)              an offline asset exists but cannot be prepared
    ├── TokenCountError (ValueError)           input the token counter cannot count
    ├── CacheError (RuntimeError)              semantic-cache failures
    │   └── CacheStorageError (OSError)        local file locked, corrupt, read-only or full
    ├── BackendUnavailableError (ConnectionError)  Redis (or another server) cannot be reached
    ├── ToolSelectionError (ValueError)        bad tool catalog or query
    ├── CompressionError (ValueError)          input a compressor cannot handle
    ├── ContextError (ValueError)              history optimization failures
    │   ├── InvalidHistoryError                a history breaks tool-call pairing or role order
    │   └── BudgetExceededError                the budget cannot be met even after truncation
    └── MonitoringError (RuntimeError)         metrics store failures

Optimizers *fail open*: at run time they log and let the request through unoptimized.
These errors are raised at construction (bad config, missing asset) or by explicit calls
such as :func:`langchain_tokenopt.context.validate_history`.
"""

from __future__ import annotations

__all__ = [
    "AssetError",
    "BackendUnavailableError",
    "BudgetExceededError",
    "CacheError",
    "CacheStorageError",
    "CompressionError",
    "ContextError",
    "InvalidHistoryError",
    "MissingDependencyError",
    "MonitoringError",
    "TokenCountError",
    "TokenOptConfigError",
    "TokenOptError",
    "ToolSelectionError",
]


class TokenOptError(Exception):
    """Root of every error raised on purpose by langchain-tokenopt."""


class TokenOptConfigError(TokenOptError, ValueError):
    """A keyword argument or config value is invalid; the message says what is allowed."""


class MissingDependencyError(TokenOptError, ImportError):
    """An optional dependency or offline asset is missing.

    The message always names the command that installs it, for example
    ``pip install "langchain-tokenopt[redis]"``.
    """

    def __init__(self, what: str, *, extra: str | None = None, command: str | None = None):
        if command is None:
            if extra is None:
                msg = "either `extra` or `command` is required"
                raise ValueError(msg)
            command = f'pip install "langchain-tokenopt[{extra}]"'
        self.what = what
        self.extra = extra
        self.command = command
        super().__init__(f"{what} is not installed. Install it with: {command}")


class AssetError(TokenOptError, RuntimeError):
    """An offline asset is present but could not be prepared (conversion or copy failed)."""


class TokenCountError(TokenOptError, ValueError):
    """The token counter was given something it cannot count."""


class CacheError(TokenOptError, RuntimeError):
    """A semantic-cache operation failed."""


class CacheStorageError(CacheError, OSError):
    """The cache's local storage is locked, corrupt, read-only or full."""


class BackendUnavailableError(TokenOptError, ConnectionError):
    """A server backend (Redis) cannot be reached or timed out."""


class ToolSelectionError(TokenOptError, ValueError):
    """The tool catalog or the query given to tool selection is invalid."""


class CompressionError(TokenOptError, ValueError):
    """A compressor was given input it cannot handle."""


class ContextError(TokenOptError, ValueError):
    """History optimization failed."""


class InvalidHistoryError(ContextError):
    """A message history breaks tool-call pairing or role order.

    Attributes:
        problems: One human-readable line per problem found.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid message history: " + "; ".join(self.problems))


class BudgetExceededError(ContextError):
    """The token budget cannot be met, even after truncating inside the newest unit."""


class MonitoringError(TokenOptError, RuntimeError):
    """The metrics store failed."""
