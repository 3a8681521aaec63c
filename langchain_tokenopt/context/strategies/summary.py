"""Strategy (c): hierarchical summaries of the units that fall out of the window.

Dropped units are grouped into fixed segments of ``segment_units`` units by their position in
the conversation, so a segment keeps its content (and its cache key) as the history grows.
Each segment is summarized once (:class:`~langchain_tokenopt.context.summarize.SummaryCache`);
when the segment summaries together exceed the room left, groups of ``fan_in`` summaries are
summarized again (summaries of summaries), level by level. The last fit to the room is
extractive, so it never calls a model. The summary goes in one ``SystemMessage`` placed right
after the system prompt.

Example:
    .. code-block:: python

        from langchain_tokenopt.context import ChatModelSummarizer, HierarchicalSummary

        step = HierarchicalSummary(summarizer=ChatModelSummarizer())  # local SmolLM2
        ContextOptimizer(max_tokens=3000, strategies=[MaskToolOutputs(), step])
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from langchain_core.messages import BaseMessage, SystemMessage

from langchain_tokenopt._checks import check_min_ints
from langchain_tokenopt.context._memo import active_memo, count_text, count_texts
from langchain_tokenopt.context.strategies.base import SUMMARY_ID_PREFIX, Plan, Slot
from langchain_tokenopt.context.strategies.window import drop_before, window_start
from langchain_tokenopt.context.summarize import (
    ExtractiveSummarizer,
    Summarizer,
    SummaryCache,
    ensure_facts,
    render_digest,
    render_transcript,
    shrink_lines,
)
from langchain_tokenopt.errors import TokenOptConfigError

__all__ = ["SUMMARY_HEADER", "HierarchicalSummary"]

logger = logging.getLogger(__name__)

#: First line of every summary message.
SUMMARY_HEADER = "Summary of the earlier conversation"
_SUMMARY_OVERHEAD = 16  # message overhead + header
_EXTRACTIVE = ExtractiveSummarizer()


class HierarchicalSummary:
    """Replace the units before the window by a (hierarchical) summary.

    Args:
        summarizer: Writes the summaries; default :class:`ExtractiveSummarizer` (no LM).
        cache: Summary cache shared across calls; default a new one per strategy.
        segment_units: Units per leaf segment.
        segment_tokens: Target tokens of each segment summary (and each merged summary).
        fan_in: Summaries merged into one at the next level.
        share: Fraction of the free budget reserved for the summary (this default and
            ``segment_tokens`` were chosen on the tau-bench dev split: facts kept per token).
        max_summary_tokens: Upper bound of the summary.
        min_summary_tokens: Below this much room no summary is written.
        merge_over: Summaries are merged into higher levels while they exceed the room by
            this factor; below it the last fit is extractive (no model call). Each merge
            loses facts the final fit could still have kept, so merging starts late (4.0 was
            chosen on long threads built from the tau-bench dev split only).
        detail_tokens: Only the newest segments, up to about this many tokens of history,
            are read in full; older segments summarized extractively are read as a digest
            (the user's lines and the tool calls with their arguments), so the cost of a
            call on a long thread stays bounded. ``None`` reads everything in full. Segments
            given to a model summarizer are always read in full (their summaries are cached).
        recent_share: When the summaries must be cut to fit, the newest of them keep their
            text whole up to this share of the room and only the older ones are cut; 0 (the
            default) cuts all alike. 0.5 keeps more of the open task's earlier lookups on long
            agent threads but fewer facts overall at tight budgets (chosen on the dev splits
            of the agent and context benches).

    Example:
        .. code-block:: python

            HierarchicalSummary(segment_units=8, share=0.4)
    """

    def __init__(
        self,
        *,
        summarizer: Summarizer | None = None,
        cache: SummaryCache | None = None,
        segment_units: int = 6,
        segment_tokens: int = 320,
        fan_in: int = 4,
        share: float = 0.7,
        max_summary_tokens: int = 1000,
        min_summary_tokens: int = 24,
        merge_over: float = 4.0,
        detail_tokens: int | None = 6_000,
        recent_share: float = 0.0,
    ) -> None:
        if summarizer is not None and not isinstance(summarizer, Summarizer):
            msg = "summarizer must implement Summarizer (cache_key and summarize())"
            raise TokenOptConfigError(msg)
        check_min_ints(
            ("segment_units", segment_units, 1),
            ("segment_tokens", segment_tokens, 16),
            ("fan_in", fan_in, 2),
            ("max_summary_tokens", max_summary_tokens, 1),
            ("min_summary_tokens", min_summary_tokens, 1),
            owner="HierarchicalSummary",
        )
        if detail_tokens is not None and (
            isinstance(detail_tokens, bool)
            or not isinstance(detail_tokens, int)
            or detail_tokens < 0
        ):
            msg = (
                "HierarchicalSummary.detail_tokens must be an int >= 0 or None, "
                f"got {detail_tokens!r}"
            )
            raise TokenOptConfigError(msg)
        if not isinstance(merge_over, int | float) or merge_over < 1.0:
            msg = f"HierarchicalSummary.merge_over must be >= 1, got {merge_over!r}"
            raise TokenOptConfigError(msg)
        if not 0.0 <= recent_share < 1.0:
            msg = f"HierarchicalSummary.recent_share must be in [0, 1), got {recent_share!r}"
            raise TokenOptConfigError(msg)
        if not 0.0 < share < 1.0:
            msg = f"HierarchicalSummary.share must be in (0, 1), got {share!r}"
            raise TokenOptConfigError(msg)
        self.summarizer: Summarizer = (
            summarizer if summarizer is not None else ExtractiveSummarizer()
        )
        self.cache = cache if cache is not None else SummaryCache()
        self.segment_units = segment_units
        self.segment_tokens = segment_tokens
        self.fan_in = fan_in
        self.share = share
        self.max_summary_tokens = max_summary_tokens
        self.min_summary_tokens = min_summary_tokens
        self.merge_over = float(merge_over)
        self.detail_tokens = detail_tokens
        self.recent_share = recent_share

    def apply(self, plan: Plan) -> None:
        """Drop the units before the window and insert their summary."""
        if plan.fits:
            return
        protected = sum(s.tokens for s in plan.slots if s.kept and s.protected)
        free = plan.budget - plan.base_tokens - protected
        reserve = min(self.max_summary_tokens, int(free * self.share))
        if reserve < self.min_summary_tokens:
            reserve = 0
        dropped = drop_before(plan, window_start(plan, reserve))
        if not dropped:
            return
        # Summaries from earlier turns are folded into the new one (as merged summaries).
        previous = [str(m.content) for m in plan.summary if _is_ours(m)]
        if previous:
            plan.set_summary([m for m in plan.summary if not _is_ours(m)])
        room = plan.budget - plan.total - _SUMMARY_OVERHEAD
        if room < self.min_summary_tokens:
            plan.notes.append(f"dropped {len(dropped)} old unit(s); no room for a summary")
            return
        text = self.summarize_slots(
            dropped, min(room, self.max_summary_tokens), plan, previous=previous
        )
        if not text:
            return
        n = sum(len(s.unit.messages) for s in dropped)
        ids = "|".join(str(m.id or "") for s in dropped for m in s.unit.messages)
        digest = hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()
        message = SystemMessage(
            content=f"{SUMMARY_HEADER} ({n} messages):\n{text}", id=f"{SUMMARY_ID_PREFIX}{digest}"
        )
        if plan.count([message]) + plan.total > plan.budget:
            text = shrink_lines(
                text, room - (plan.count([message]) + plan.total - plan.budget), plan.counter
            )
            if not text:
                return
            message = message.model_copy(
                update={"content": f"{SUMMARY_HEADER} ({n} messages):\n{text}"}
            )
            if plan.count([message]) + plan.total > plan.budget:
                return
        plan.set_summary([*plan.summary, message])
        plan.notes.append(
            f"summarized {len(dropped)} old unit(s) into {plan.count([message])} tokens"
        )
        restored = _refill(plan, dropped)
        if restored:
            plan.notes.append(f"kept {restored} summarized unit(s) verbatim in the room left")

    # ------------------------------------------------------------------ hierarchy
    def summarize_slots(
        self, slots: list[Slot], room: int, plan: Plan, *, previous: Sequence[str] = ()
    ) -> str:
        """Return the summary of ``slots`` within ``room`` tokens (cached by segment).

        ``previous`` summaries (from earlier turns) come first and count as merged ones.
        """
        counter = plan.counter
        segments: dict[int, list[Slot]] = {}
        for slot in slots:
            segments.setdefault(slot.position // self.segment_units, []).append(slot)
        groups = [group for _, group in sorted(segments.items())]
        # Only complete segments go to the summarizer (a model call, cached for good); the
        # newest, still growing segment gets the extractive summary until it is complete.
        complete = [len(group) == self.segment_units for group in groups]
        detailed = self._detailed(groups, complete, plan)
        transcripts = [
            (render_transcript if full else render_digest)(
                [m for s in group for m in s.unit.messages]
            )
            for group, full in zip(groups, detailed, strict=True)
        ]
        summaries = [*previous] + [
            self._cached(text, 0, plan, extractive=not full)
            for text, full in zip(transcripts, complete, strict=True)
        ]
        transcripts = [*previous, *transcripts]
        # Summaries of summaries: while the summaries are far over the room (more than
        # ``merge_over`` times), merge the oldest ``fan_in`` of them (a group that is stable
        # across turns, so the merge is cached too). The last fit to the room is extractive.
        levels = [1] * len(previous) + [0] * (len(summaries) - len(previous))
        while len(summaries) > 1 and sum(count_texts(counter, summaries)) > room * self.merge_over:
            take = min(self.fan_in, len(summaries))
            level = max(levels[:take]) + 1
            merged = self._cached("\n".join(summaries[:take]), level, plan)
            summaries = [merged, *summaries[take:]]
            levels = [level, *levels[take:]]
        # Room to spare: newest segments go back to their compact transcripts.
        used = sum(count_texts(counter, summaries))
        for i in range(len(summaries) - 1, -1, -1):
            if levels[i] != 0:
                break  # merged summaries are all at the front
            leaf = transcripts[len(transcripts) - len(summaries) + i]
            extra = count_texts(counter, [leaf])[0] - count_texts(counter, [summaries[i]])[0]
            if used + extra > room:
                continue
            summaries[i] = leaf
            used += extra
        # Still room: the newest segments left as summaries get longer extractive ones
        # (two attempts at most, so the cost stays bounded on long threads).
        attempts = 0
        for i in range(len(summaries) - 1, -1, -1):
            leaf = transcripts[len(transcripts) - len(summaries) + i]
            if levels[i] != 0 or room - used < self.min_summary_tokens or attempts >= 2:
                break
            if summaries[i] == leaf:
                continue
            attempts += 1
            own = count_texts(counter, [summaries[i]])[0]
            longer = _extractive(leaf, _quantize(own + room - used), counter.encoding_name)
            grown = count_text(counter, longer) - own
            if grown > 0 and used + grown <= room:
                summaries[i] = longer
                used += grown
        joined = "\n".join(s for s in summaries if s)
        if count_text(counter, joined) <= room:
            return joined
        # The newest summaries keep their words up to ``recent_share`` of the room: they hold
        # the open task's ids (its earlier lookups), which a fit of everything at once would
        # rank level with the facts of long-finished tasks. The older ones share the rest.
        # The summary at the boundary gives its newest lines to the recent part: a task that
        # began late in one segment keeps its first lookups (a user's payment ids).
        recent: list[str] = []
        kept = 0
        split = len(summaries)
        rest = ""
        sizes = count_texts(counter, summaries)
        for i in range(len(summaries) - 1, -1, -1):
            text, size = summaries[i], sizes[i]
            if text and kept + size + 1 > room * self.recent_share:
                lines = text.split("\n")
                take = 0
                for line_size in reversed(count_texts(counter, lines)):
                    if kept + line_size + 1 > room * self.recent_share:
                        break
                    kept += line_size + 1
                    take += 1
                if take:
                    recent.append("\n".join(lines[len(lines) - take :]))
                    rest = "\n".join(lines[: len(lines) - take])
                    split = i
                break
            if text:
                recent.append(text)
                kept += size + 1
            split = i
        older = [*summaries[:split], rest]
        if not recent or not any(older):
            return _fit(joined, _quantize(room), counter.encoding_name)
        head = _fit("\n".join(s for s in older if s), _quantize(room - kept), counter.encoding_name)
        return "\n".join(s for s in (head, *reversed(recent)) if s)

    def _detailed(self, groups: list[list[Slot]], complete: list[bool], plan: Plan) -> list[bool]:
        """Which segments are read in full: the newest ``detail_tokens`` of history."""
        if self.detail_tokens is None:
            return [True] * len(groups)
        extractive = isinstance(self.summarizer, ExtractiveSummarizer)
        out = [True] * len(groups)
        newer = 0  # tokens of the segments newer than the current one
        for i in range(len(groups) - 1, -1, -1):
            if newer >= self.detail_tokens and (extractive or not complete[i]):
                out[i] = False
            if newer < self.detail_tokens:
                newer += sum(plan.count(s.unit.messages) for s in groups[i])
        return out

    def _cached(self, text: str, level: int, plan: Plan, *, extractive: bool = False) -> str:
        summarizer = _EXTRACTIVE if extractive else self.summarizer
        key = SummaryCache.key(summarizer.cache_key, level, self.segment_tokens, text)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        try:
            summary = summarizer.summarize(
                text, max_tokens=self.segment_tokens, counter=plan.counter
            )
        except Exception:
            logger.warning("summarizer failed; using the extractive summary", exc_info=True)
            return _EXTRACTIVE.summarize(text, max_tokens=self.segment_tokens, counter=plan.counter)
        self.cache.put(key, summary)
        return summary


def _quantize(tokens: int) -> int:
    """Round a room down to a multiple of 32 tokens so fits are reused across turns."""
    return tokens - tokens % 32 if tokens >= 64 else tokens


_FIT_ENTRIES = 512  # fits hold whole summaries: a short table


def _fit(text: str, room: int, encoding: str) -> str:
    """Extractive fit of ``text`` into ``room`` tokens, keeping its facts (memoized)."""
    memo = active_memo()
    key = (text, room, encoding)
    found: str | None = memo.table("fit").get(key)
    if found is None:
        counter = memo.counter_for(encoding)
        body = shrink_lines(text, max(0, room - room // 4), counter)
        found = memo.remember(
            "fit",
            key,
            shrink_lines(ensure_facts(body, text, room, counter), room, counter),
            limit=_FIT_ENTRIES,
        )
    return found


def _extractive(text: str, max_tokens: int, encoding: str) -> str:
    memo = active_memo()
    key = (text, max_tokens, encoding)
    found: str | None = memo.table("extractive").get(key)
    if found is None:
        found = memo.remember(
            "extractive",
            key,
            _EXTRACTIVE.summarize(text, max_tokens=max_tokens, counter=memo.counter_for(encoding)),
            limit=_FIT_ENTRIES,
        )
    return found


def _is_ours(message: BaseMessage) -> bool:
    return isinstance(message.id, str) and message.id.startswith(SUMMARY_ID_PREFIX)


def _refill(plan: Plan, dropped: list[Slot]) -> int:
    """Put back the newest dropped units that fit in the room the summary left.

    Walking back from the newest, a tool exchange too large for the room is skipped whole
    (its facts are in the summary) while the words around it still come back: the user
    replies to the assistant's last message ("Option 2, please"), so that message matters
    more than the raw results it was written from. The restored part still starts on a
    human turn and never splits a tool call from its result; the restored units also
    appear in the summary (a little redundancy in exchange for verbatim recent context).
    """
    room = plan.budget - plan.total
    used = 0
    chosen: list[Slot] = []
    keep = 0  # how many of ``chosen`` (newest first) end on a valid start
    for slot in reversed(dropped):
        if used + slot.tokens > room:
            if slot.unit.kind == "tool_exchange":
                continue
            break
        used += slot.tokens
        chosen.append(slot)
        if not plan.require_human_first or slot.is_human:
            keep = len(chosen)
    for slot in chosen[:keep]:
        plan.restore(slot)
    return keep
