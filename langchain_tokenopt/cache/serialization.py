"""JSON round-trip of cached generations via ``langchain_core.load`` (never pickle).

``Generation``, ``ChatGeneration`` and their messages (``AIMessage`` with ``tool_calls``,
``usage_metadata``, ``response_metadata``, structured output in ``additional_kwargs``) are
LangChain-serializable, so ``dumps`` / ``loads`` restore them field for field.

Example:
    .. code-block:: python

        payload = dumps_generations([Generation(text="hi")])
        loads_generations(payload)  # [Generation(text="hi")]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.load import dumps, loads
from langchain_core.outputs import Generation

from langchain_tokenopt.errors import CacheError

__all__ = ["dumps_generations", "loads_generations"]


def dumps_generations(generations: Sequence[Generation]) -> str:
    """Serialize generations to a JSON string.

    Raises:
        CacheError: an item is not a ``Generation``.
    """
    if isinstance(generations, str | bytes) or not isinstance(generations, Sequence):
        msg = f"a cache stores a list of langchain Generations, got {type(generations).__name__}"
        raise CacheError(msg)
    items = list(generations)
    for item in items:
        if not isinstance(item, Generation):
            msg = f"a cache stores langchain Generation objects, got {type(item).__name__}"
            raise CacheError(msg)
    return dumps(items)


def loads_generations(payload: str) -> list[Generation]:
    """Restore generations written by :func:`dumps_generations`.

    Raises:
        CacheError: the payload is not a JSON list of generations.
    """
    try:
        value: Any = loads(payload, allowed_objects="all")
    except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        msg = f"cached payload cannot be decoded: {exc}"
        raise CacheError(msg) from exc
    if not isinstance(value, list) or not all(isinstance(g, Generation) for g in value):
        msg = "cached payload is not a list of Generation objects"
        raise CacheError(msg)
    return value
