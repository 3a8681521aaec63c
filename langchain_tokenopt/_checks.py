"""Argument checks that every component's constructor shares.

Example:
    .. code-block:: python

        check_min_ints(("k", 5, 1), ("carry_turns", 0, 0))  # passes
        check_min_ints(("k", 0, 1))  # TokenOptConfigError: k must be an int >= 1, got 0
"""

from __future__ import annotations

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["check_min_ints"]


def check_min_ints(*checks: tuple[str, object, int], owner: str | None = None) -> None:
    """Raise unless each value is an ``int`` (``bool`` excluded) at least its minimum.

    Args:
        *checks: ``(name, value, minimum)`` per argument, checked in order.
        owner: Class name that prefixes each name in the message (``"HierarchicalSummary"``
            gives ``HierarchicalSummary.fan_in must be ...``); ``None``: the bare name.

    Raises:
        TokenOptConfigError: the first value that is not such an ``int``, naming it, its
            minimum and what was given.
    """
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            label = name if owner is None else f"{owner}.{name}"
            msg = f"{label} must be an int >= {low}, got {value!r}"
            raise TokenOptConfigError(msg)
