"""Strategy (b): a sliding window over units.

The window is the longest suffix of whole units that fits, and it starts on a human message
(never mid-exchange) whenever the input does. Units before it are dropped; the newest unit
and the newest human turn are protected, so if even the window from the newest human turn
does not fit, the optimizer's final step drops the least important units inside that turn.

Example:
    .. code-block:: python

        ContextOptimizer(max_tokens=1500, strategies=[SlidingWindow()])
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_tokenopt.context.strategies.base import Plan, Slot

__all__ = ["SlidingWindow", "window_start"]


def window_start(plan: Plan, reserve: int) -> int:
    """Return the index (into ``plan.slots``) where the fitting window begins.

    Args:
        plan: The plan (only kept slots count).
        reserve: Tokens to leave free (for a summary).

    Returns:
        The smallest index ``i`` such that every kept slot from ``i`` on, plus the system
        messages, the protected slots and ``reserve``, fits in the budget, with slot ``i``
        a human message when ``plan.require_human_first``. Falls back to the newest human
        turn (or the newest unit) when nothing fits.
    """
    slots = plan.slots
    if not slots:
        return 0
    base = plan.base_tokens
    limit = plan.budget - base - reserve
    protected_before = [0] * (len(slots) + 1)  # protected tokens in slots[:i]
    for i, slot in enumerate(slots):
        extra = slot.tokens if (slot.kept and slot.protected) else 0
        protected_before[i + 1] = protected_before[i] + extra
    suffix = 0
    best: int | None = None
    for i in range(len(slots) - 1, -1, -1):
        slot = slots[i]
        if slot.kept:
            suffix += slot.tokens
        if not slot.kept:
            continue
        if suffix + protected_before[i] > limit:
            break
        if not plan.require_human_first or slot.is_human:
            best = i
    if best is not None:
        return best
    fallback = [i for i, s in enumerate(slots) if s.kept and s.protected]
    return fallback[0] if fallback else len(slots) - 1


def drop_before(plan: Plan, start: int) -> list[Slot]:
    """Drop every unprotected kept slot before ``start``; return them."""
    dropped = []
    for slot in plan.slots[:start]:
        if slot.kept and not slot.protected:
            plan.drop(slot)
            dropped.append(slot)
    return dropped


@dataclass(frozen=True)
class SlidingWindow:
    """Keep the newest units that fit, starting on a human turn; drop the rest."""

    def apply(self, plan: Plan) -> None:
        """Drop the units before the window."""
        if plan.fits:
            return
        dropped = drop_before(plan, window_start(plan, 0))
        if dropped:
            plan.notes.append(f"sliding window dropped {len(dropped)} old unit(s)")
