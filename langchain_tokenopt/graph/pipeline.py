"""The optimizer steps around one LLM call, shared by the graph nodes and the middleware.

One request flows through: response-cache lookup → tool selection → system-prompt
compression → history optimization → the model → response-cache store. Every step is
measured (tokens before/after, latency) and reported to the monitor, and every step
*fails open*: if it raises, the error is logged with its type only (never the prompt), the
step is reported with ``error=<type>``, and the request goes on unoptimized.

Example:
    .. code-block:: python

        pipeline = OptimizerPipeline(model=llm, tools=tools, system_prompt="You are ...", ...)
        recorder = pipeline.recorder("request-1", config)
        answer, layer = await pipeline.alookup(messages, recorder, {"tenant_id": "acme"})

``trim_by_margin`` lives in :mod:`langchain_tokenopt.tools.margin` (re-exported here).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import RunnableConfig

from langchain_tokenopt.cache.keys import RequestKey, model_identity_of
from langchain_tokenopt.cache.scope import CallerScope
from langchain_tokenopt.cache.tool_policy import (
    cacheable_ttls,
    context_free_tools,
    turn_store_decision,
)
from langchain_tokenopt.compression.modular_prompt import ModularPrompt
from langchain_tokenopt.context import ContextOptimizer, ContextResult
from langchain_tokenopt.context.compaction import (
    DEFAULT_COMPACT_TO,
    CompactedView,
    history_tokens,
    stepwise_view,
)
from langchain_tokenopt.graph.defaults import (
    resolve_compressor,
    resolve_context_optimizer,
    resolve_tool_selector,
    tool_name,
)
from langchain_tokenopt.graph.options import OptimizerOptions
from langchain_tokenopt.graph.prefix import prefix_caching_default, provider_of
from langchain_tokenopt.monitoring.handler import REQUEST_ID_KEY, find_handlers
from langchain_tokenopt.monitoring.reporting import StepRecorder
from langchain_tokenopt.protocols import (
    CacheAnswer,
    CacheLayer,
    HistoryOptimizer,
    PromptFitter,
    ResponseCache,
    StepEvent,
    StepMonitor,
    StepName,
    ToolSelectorLike,
)
from langchain_tokenopt.tokens import TokenCounter, tool_schema_json
from langchain_tokenopt.tools.margin import trim_by_margin
from langchain_tokenopt.tools.records import ToolSelection
from langchain_tokenopt.tools.selector import ToolSelector

logger = logging.getLogger(__name__)

__all__ = [
    "OptimizerPipeline",
    "ToolChoice",
    "latest_human",
    "model_identity",
    "trim_by_margin",
]

T = TypeVar("T")

#: Fitted system prompts kept per pipeline (one per recent question).
_FITTED_PROMPTS = 64


def latest_human(messages: Sequence[BaseMessage]) -> HumanMessage | None:
    """Return the newest human message, or ``None``."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message
    return None


def model_identity(model: BaseChatModel) -> dict[str, Any]:
    """Describe a chat model by its class and its plain public settings.

    Only scalar fields (and flat lists / dicts of scalars) are read, one attribute at a
    time: serializing the whole model could consume iterators or touch clients. Secrets,
    callbacks and the model's own cache are left out; what remains (model name,
    temperature, max tokens ...) is what changes the answer.
    """
    skip = {
        "callbacks",
        "callback_manager",
        "cache",
        "verbose",
        "tags",
        "metadata",
        "rate_limiter",
        # how fast, not what: CPU threads and prefix-cache reuse never change the answer
        "num_threads",
        "reuse_prefix",
    }
    settings: dict[str, Any] = {}
    for name in sorted(type(model).model_fields):
        lowered = name.lower()
        if name in skip or "key" in lowered or "secret" in lowered or lowered == "token":
            continue
        value = getattr(model, name, None)
        if _plain(value):
            settings[name] = value
    cls = type(model)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "kwargs": settings}


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(v is None or isinstance(v, str | int | float | bool) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items()) and not any(
            isinstance(v, dict) for v in value.values()
        )
    return False


@dataclass(frozen=True)
class ToolChoice:
    """The tools bound to one model call and the thread's working set after it."""

    tools: list[Any]
    """The tool objects to bind (what the user passed, plus ``find_tools``)."""
    names: list[str]
    """Their names, in the same order."""
    working_set: dict[str, Any] | None = None
    """The working set to keep in the agent state (``None`` when no selector keeps one)."""


class OptimizerPipeline:
    """Run the optimizer steps of one request, measured and failing open.

    Every step has a sync and an async form that share its logic; the async form awaits
    the component's own async method (the cache's ``alookup_request`` / ``aupdate_request``,
    the selector's ``aselect``, the history optimizer's ``aoptimize`` / ``ainvoke``). A
    step whose component has no async form (a prompt fitter, a selector with ``select``
    only, the prefix-stable compaction) runs in a worker thread.

    Args:
        model: The chat model the agent calls.
        tools: The whole tool catalog.
        system_prompt: The unoptimized system prompt (a string, a ``ModularPrompt`` or None).
        cache: A :class:`~langchain_tokenopt.protocols.ResponseCache` (e.g.
            :class:`~langchain_tokenopt.SemanticCache`) or None to skip the response cache.
        tool_selector: A :class:`~langchain_tokenopt.protocols.ToolSelectorLike` or None to
            bind every tool.
        prompt_compressor: A :class:`~langchain_tokenopt.protocols.PromptFitter` or None.
        context_optimizer: A :class:`~langchain_tokenopt.protocols.HistoryOptimizer` (e.g.
            :class:`~langchain_tokenopt.ContextOptimizer`) or None.
        monitor: A :class:`~langchain_tokenopt.protocols.StepMonitor` or None.
        counter: Token counter for the before/after figures.
        tool_margin: Trim the selected tools to those within this retrieval-score gap of the
            best one (:func:`~langchain_tokenopt.tools.margin.trim_by_margin`); ``None``
            binds the selector's choice as is.
        cacheable_tools: ``{tool name: lifetime in seconds}`` of tools whose turns may be
            stored (also read from a tool's ``cache_ttl`` metadata); other tool-using
            turns are never stored.
        prefix_stable: Keep the request prefix stable within a thread for the provider's
            prompt cache: the system prompt fitted once per thread, the history compacted
            in steps (:mod:`~langchain_tokenopt.context.compaction`), breakpoints or a
            cache key per provider (:mod:`~langchain_tokenopt.graph.prefix`).
        compact_to: The history grows to its budget / ``compact_to`` between compactions.

    Example:
        .. code-block:: python

            pipeline = OptimizerPipeline(
                model=llm, tools=tools, system_prompt="You are ...", cache=None,
                tool_selector=None, prompt_compressor=None, context_optimizer=None,
                monitor=None, counter=TokenCounter("gpt-4o"),
            )
            view = pipeline.history(messages, pipeline.recorder("req-1", None))
    """

    def __init__(
        self,
        *,
        model: BaseChatModel,
        tools: Sequence[Any],
        system_prompt: Any,
        cache: ResponseCache | None,
        tool_selector: ToolSelectorLike | None,
        prompt_compressor: PromptFitter | None,
        context_optimizer: HistoryOptimizer | None,
        monitor: StepMonitor | None,
        counter: TokenCounter,
        tool_margin: float | None = None,
        cacheable_tools: Mapping[str, float] | None = None,
        prefix_stable: bool = False,
        compact_to: float = DEFAULT_COMPACT_TO,
    ) -> None:
        self.model = model
        self.tools = list(tools)
        self.system_prompt = system_prompt
        self.cache = cache
        self.tool_selector = tool_selector
        self.prompt_compressor = prompt_compressor
        self.context_optimizer = context_optimizer
        self.monitor = monitor
        self.counter = counter
        self.tool_margin = tool_margin
        self.cacheable_ttls = cacheable_ttls(self.tools, cacheable_tools)
        self.prefix_stable = bool(prefix_stable)
        self.compact_to = compact_to
        self.provider = provider_of(model)
        self._catalog_json = [tool_schema_json(t) for t in self.tools]
        self._identity = model_identity_of(model_identity(model), tools=self._catalog_json)
        self._catalog_tokens = counter.count_tools(self.tools) if self.tools else 0
        self._full_system = _system_text(system_prompt)
        self._system_tokens = counter.count(self._full_system) if self._full_system else 0
        self._fitted: OrderedDict[str, str] = OrderedDict()
        self._memo_lock = threading.Lock()

    @classmethod
    def from_options(
        cls,
        options: OptimizerOptions,
        *,
        model: BaseChatModel,
        tools: Sequence[Any],
        system_prompt: Any,
        counter: TokenCounter,
        cache: ResponseCache | None,
        monitor: StepMonitor | None,
    ) -> OptimizerPipeline:
        """The pipeline of ``options`` for one model, catalog and system prompt.

        The graph factory and the middleware both build their pipelines here, so their
        steps resolve the same way. ``cache`` and ``monitor`` come resolved
        (:func:`~langchain_tokenopt.graph.defaults.resolve_cache`,
        :func:`~langchain_tokenopt.graph.defaults.resolve_monitor`): the middleware shares
        them between its pipelines.
        """
        catalog = list(tools)
        return cls(
            model=model,
            tools=catalog,
            system_prompt=system_prompt,
            cache=cache,
            tool_selector=resolve_tool_selector(options.tool_selector, catalog, counter),
            prompt_compressor=resolve_compressor(
                options.compressor, system_prompt, options.system_budget, counter
            ),
            context_optimizer=resolve_context_optimizer(
                options.context_optimizer, options.context_budget, counter
            ),
            monitor=monitor,
            counter=counter,
            tool_margin=options.tool_margin,
            cacheable_tools=options.cacheable_tools,
            prefix_stable=(
                prefix_caching_default(model)
                if options.prefix_stable is None
                else options.prefix_stable
            ),
            compact_to=options.compact_to,
        )

    # ------------------------------------------------------------------ monitoring
    def recorder(self, request_id: str, config: Mapping[str, Any] | None) -> StepRecorder:
        """Return a recorder that reports to our monitor and to handlers in ``config``."""
        own = [self.monitor] if self.monitor is not None else []
        found = StepRecorder.from_config(config, request_id=request_id, monitors=own)
        return found if found is not None else StepRecorder(request_id=request_id)

    def model_config(self, config: Mapping[str, Any] | None, request_id: str) -> RunnableConfig:
        """Config for the model call: our monitor as a callback, the request id in metadata."""
        callbacks: list[BaseCallbackHandler] = []
        monitor = self.monitor
        if isinstance(monitor, BaseCallbackHandler) and all(
            h is not monitor for h in find_handlers(config)
        ):
            callbacks.append(monitor)
        metadata = {REQUEST_ID_KEY: request_id}
        if callbacks:
            return RunnableConfig(callbacks=callbacks, metadata=metadata)
        return RunnableConfig(metadata=metadata)

    def _run(self, recorder: StepRecorder, step: _Step[T]) -> T:
        """Run a step's sync work, measured and failing open."""
        if step.work is None:
            return step.fallback
        start = time.perf_counter()
        try:
            outcome: T | Exception = step.work()
        except Exception as exc:  # noqa: BLE001 - optimizers fail open by design
            outcome = exc
        return self._report(recorder, step, start, outcome)

    async def _arun(self, recorder: StepRecorder, step: _Step[T]) -> T:
        """Await a step's async work (its sync work in a worker thread when it has none)."""
        if step.work is None:
            return step.fallback
        start = time.perf_counter()
        work, awork = step.work, step.awork
        try:
            outcome: T | Exception = await (awork() if awork else asyncio.to_thread(work))
        except Exception as exc:  # noqa: BLE001 - optimizers fail open by design
            outcome = exc
        return self._report(recorder, step, start, outcome)

    @staticmethod
    def _report(recorder: StepRecorder, step: _Step[T], start: float, outcome: T | Exception) -> T:
        """Measure a step's outcome, report it, and return its value (the fallback on error)."""
        before, fallback, measure, extra = step.before, step.fallback, step.measure, step.extra
        error: str | None = None
        if not isinstance(outcome, Exception):
            try:
                value, after = outcome, measure(outcome)
                latency = (time.perf_counter() - start) * 1000
                tokens_before = before() if callable(before) else before
            except Exception as exc:  # noqa: BLE001 - a failed measure fails the step
                outcome = exc
        if isinstance(outcome, Exception):
            logger.warning(
                "tokenopt %s step failed (%s); the request goes on unoptimized",
                step.name,
                type(outcome).__name__,
            )
            tokens_before = before() if callable(before) else before
            value, after, error = fallback, tokens_before, type(outcome).__name__
            extra = {k: v for k, v in extra.items() if k in ("tools_catalog",)}
            latency = (time.perf_counter() - start) * 1000
        extra_values = {k: (v(value) if callable(v) else v) for k, v in extra.items()}
        recorder.add(
            StepEvent(
                step=step.name,
                tokens_before=tokens_before,
                tokens_after=after,
                latency_ms=latency,
                error=error,
                **extra_values,
            )
        )
        return value

    # ------------------------------------------------------------------ cache
    def cache_key(
        self, messages: Sequence[BaseMessage], scope: Mapping[str, str] | None = None
    ) -> RequestKey:
        """Build the typed response-cache key of the *unoptimized* request.

        The key holds the full system prompt, the whole conversation (the cache embeds only
        the newest human message and digests the rest), the model and the whole tool
        catalog, so the optimizations that follow never change which entry a question maps
        to. ``scope`` (tenant/user ids) confines the entry; empty, the current
        :func:`~langchain_tokenopt.cache.cache_scope` does.
        """
        system = [SystemMessage(self._full_system)] if self._full_system else []
        # Message ids are generated per run: left in, no plain BaseCache would ever match a
        # repeated turn (SemanticCache ignores them on its own).
        bare = [m.model_copy(update={"id": None}) if m.id else m for m in messages]
        return self.cache_key_of(dumps([*system, *bare]), scope)

    def cache_key_of(self, prompt: str, scope: Mapping[str, str] | None = None) -> RequestKey:
        """The typed key of an already serialized request (``RequestKey.prompt``)."""
        ids = {k: v for k, v in (scope or {}).items() if isinstance(v, str) and v}
        caller = (
            CallerScope(tenant_id=ids.get("tenant_id"), user_id=ids.get("user_id")) if ids else None
        )
        return RequestKey(
            prompt=prompt,
            model=self._identity,
            caller=caller,
            cacheable_tools=context_free_tools(self.cacheable_ttls),
        )

    def request_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of the unoptimized request: system prompt, messages and every tool."""
        system = [SystemMessage(self._full_system)] if self._full_system else []
        return self.counter.count_messages([*system, *messages]) + self._catalog_tokens

    def _lookup_step(
        self, messages: Sequence[BaseMessage], scope: Mapping[str, str]
    ) -> _Step[CacheAnswer]:
        cache = self.cache
        if cache is None:
            return _Step.skipped("cache", CacheAnswer())
        key, before = self.cache_key(messages, scope), self.request_tokens(messages)
        return _Step(
            "cache",
            CacheAnswer(),
            before=before,
            measure=lambda a: 0 if a.generations else before,
            work=lambda: cache.lookup_request(key),
            awork=lambda: cache.alookup_request(key),
            extra=_cache_extra(),
        )

    def lookup(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, scope: Mapping[str, str]
    ) -> tuple[AIMessage | None, CacheLayer | None]:
        """Look the turn up in the response cache; return ``(answer, layer)``."""
        return _cache_result(self._run(recorder, self._lookup_step(messages, scope)))

    async def alookup(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, scope: Mapping[str, str]
    ) -> tuple[AIMessage | None, CacheLayer | None]:
        """Async :meth:`lookup`: awaits the cache's ``alookup_request``."""
        return _cache_result(await self._arun(recorder, self._lookup_step(messages, scope)))

    def _store_ttl(self, messages: Sequence[BaseMessage]) -> tuple[bool, float | None]:
        decision = turn_store_decision(messages, self.cacheable_ttls)
        if not decision.store:
            logger.debug("tokenopt cache store skipped: %s", decision.reason)
        return decision.store, decision.ttl

    def _store_step(
        self, key: RequestKey, answer: AIMessage, messages: Sequence[BaseMessage]
    ) -> _Store | None:
        cache = self.cache
        if cache is None:
            return None
        allowed, ttl = self._store_ttl(messages)
        if not allowed:
            return None
        return _Store(cache, key, [ChatGeneration(message=answer)], ttl)

    def store(
        self,
        key: RequestKey,
        answer: AIMessage,
        messages: Sequence[BaseMessage] = (),
    ) -> bool:
        """Store the turn's final answer when its tools allow it; never raises.

        ``messages`` is the conversation the answer ends: a turn that called a tool not
        declared cacheable is not stored, and one that called only cacheable tools is stored
        with the smallest of their lifetimes (:mod:`~langchain_tokenopt.cache.tool_policy`).
        A cache that cannot give one entry its own lifetime (a plain ``BaseCache``) stores
        only turns without tool calls. Returns whether the answer was stored.
        """
        step = self._store_step(key, answer, messages)
        try:
            return step is not None and _stored(step.run())
        except Exception as exc:  # noqa: BLE001 - fail open
            return _store_failed(exc)

    async def astore(
        self,
        key: RequestKey,
        answer: AIMessage,
        messages: Sequence[BaseMessage] = (),
    ) -> bool:
        """Async :meth:`store`: awaits the cache's ``aupdate_request``."""
        step = self._store_step(key, answer, messages)
        try:
            return step is not None and _stored(await step.arun())
        except Exception as exc:  # noqa: BLE001 - fail open
            return _store_failed(exc)

    # ------------------------------------------------------------------ tools
    def _all_tools(self, working_set: dict[str, Any] | None) -> ToolChoice:
        return ToolChoice(list(self.tools), [tool_name(t) for t in self.tools], working_set)

    def _choice(
        self, selection: ToolSelection, working_set: dict[str, Any] | None, own: bool
    ) -> ToolChoice:
        """The tools to bind from a selection (``own``: made by a ``ToolSelector``)."""
        if own:
            return ToolChoice(list(selection.tools), list(selection.names), selection.working_set)
        if self.tool_margin is not None:
            return ToolChoice(*trim_by_margin(selection, self.tool_margin), working_set)
        return ToolChoice(list(selection.tools), list(selection.names), working_set)

    def _tools_measure(self, choice: ToolChoice) -> int:
        return self.counter.count_tools(choice.tools) if choice.tools else 0

    def _selection_step(
        self, messages: Sequence[BaseMessage], working_set: dict[str, Any] | None
    ) -> _Step[ToolChoice]:
        selector = self.tool_selector
        if selector is None:
            every = self._all_tools(working_set) if self.tools else ToolChoice([], [], working_set)
            return _Step.skipped("tool_selection", every)
        items = list(messages)

        def work() -> ToolChoice:
            if isinstance(selector, ToolSelector):
                selection = selector.select(items, working_set=working_set, margin=self.tool_margin)
                return self._choice(selection, working_set, own=True)
            return self._choice(selector.select(items), working_set, own=False)

        async def awork() -> ToolChoice:
            if isinstance(selector, ToolSelector):
                selection = await selector.aselect(
                    items, working_set=working_set, margin=self.tool_margin
                )
                return self._choice(selection, working_set, own=True)
            found = await asyncio.to_thread(selector.select, items)
            return self._choice(found, working_set, own=False)

        return _Step(
            "tool_selection",
            self._all_tools(working_set),
            before=self._catalog_tokens,
            measure=self._tools_measure,
            work=work,
            awork=awork,
            extra={"tools_bound": lambda v: len(v.tools), "tools_catalog": len(self.tools)},
        )

    def select_tools(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        working_set: dict[str, Any] | None = None,
    ) -> ToolChoice:
        """Choose the tools of this model call and the thread's next working set.

        ``working_set`` is the value kept in the agent state (``None`` on a fresh thread or
        an old checkpoint); the returned :class:`ToolChoice` carries the one to keep.
        """
        return self._run(recorder, self._selection_step(messages, working_set))

    async def aselect_tools(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        working_set: dict[str, Any] | None = None,
    ) -> ToolChoice:
        """Async :meth:`select_tools`: awaits a ``ToolSelector``'s ``aselect``.

        A selector with ``select`` only runs in a worker thread.
        """
        return await self._arun(recorder, self._selection_step(messages, working_set))

    # ------------------------------------------------------------------ system prompt
    def _fit(self, compressor: PromptFitter, question: str, kept: str | None) -> str:
        if self.prefix_stable and kept:
            return kept
        with self._memo_lock:
            found = self._fitted.get(question)
            if found is not None:
                self._fitted.move_to_end(question)
                return found
        text = compressor(self.system_prompt, question)
        with self._memo_lock:
            self._fitted[question] = text
            while len(self._fitted) > _FITTED_PROMPTS:
                self._fitted.popitem(last=False)
        return text

    def _system_step(self, question: str, kept: str | None) -> _Step[str]:
        compressor = self.prompt_compressor
        if not self._full_system or compressor is None:
            return _Step.skipped("compression", self._full_system)
        return _Step(
            "compression",
            self._full_system,
            before=self._system_tokens,
            measure=self.counter.count,
            work=lambda: self._fit(compressor, question, kept),
        )

    def system_text(self, question: str, recorder: StepRecorder, kept: str | None = None) -> str:
        """Return the system prompt for this request, compressed when a compressor is set.

        The fitted prompt is memoized per question: the calls of one tool loop (same
        question) send the same system prompt without compressing it again. In the
        prefix-stable mode, ``kept`` (the thread's prompt, fitted on its first question) is
        sent again as it is.
        """
        return self._run(recorder, self._system_step(question, kept))

    async def asystem_text(
        self, question: str, recorder: StepRecorder, kept: str | None = None
    ) -> str:
        """Async :meth:`system_text` (a prompt fitter is sync: it runs in a worker thread)."""
        return await self._arun(recorder, self._system_step(question, kept))

    # ------------------------------------------------------------------ history
    def _stable_step(
        self, messages: Sequence[BaseMessage], kept: Any
    ) -> tuple[_Stepwise, _Step[list[BaseMessage]]] | None:
        optimizer = self.context_optimizer
        if not self.prefix_stable or not isinstance(optimizer, ContextOptimizer):
            return None
        items = list(messages)
        step = _Stepwise(optimizer, items, CompactedView.from_state(kept), self.compact_to)
        return step, _Step("context", items, before=step.before, measure=step.after, work=step.run)

    def stable_history(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, kept: Any
    ) -> tuple[list[BaseMessage], Any, int]:
        """The prefix-stable view: ``(view, value to keep in the state, stable messages)``.

        The kept view plus the new messages is sent while it fits the budget / ``compact_to``;
        past that, one compaction brings the history back to the budget. ``stable messages`` is how
        many leading messages of the view were sent last time too (a breakpoint goes there).
        Other optimizers (not a :class:`ContextOptimizer`) fall back to :meth:`history`.
        """
        planned = self._stable_step(messages, kept)
        if planned is None:
            return self.history(messages, recorder), kept, 0
        return planned[0].result(self._run(recorder, planned[1]))

    async def astable_history(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, kept: Any
    ) -> tuple[list[BaseMessage], Any, int]:
        """Async :meth:`stable_history` (the compaction runs in a worker thread)."""
        planned = self._stable_step(messages, kept)
        if planned is None:
            return await self.ahistory(messages, recorder), kept, 0
        return planned[0].result(await self._arun(recorder, planned[1]))

    def _history_step(self, messages: Sequence[BaseMessage]) -> _Step[list[BaseMessage]]:
        items = list(messages)
        optimizer = self.context_optimizer
        if optimizer is None:
            return _Step.skipped("context", items)
        if isinstance(optimizer, ContextOptimizer):
            # Its result counts the input lazily and memoized per message: a long thread's
            # old messages are not counted again on every call.
            done = _Optimized(self.counter, items)

            async def optimize() -> list[BaseMessage]:
                return done.keep(await optimizer.aoptimize(items))

            return _Step(
                "context",
                items,
                before=done.before,
                measure=done.after,
                work=lambda: done.keep(optimizer.optimize(items)),
                awork=optimize,
            )

        async def invoke() -> list[BaseMessage]:
            return list(await optimizer.ainvoke(items))

        return _Step(
            "context",
            items,
            before=self.counter.count_messages(items),
            measure=self.counter.count_messages,
            work=lambda: list(optimizer.invoke(items)),
            awork=invoke,
        )

    def history(self, messages: Sequence[BaseMessage], recorder: StepRecorder) -> list[BaseMessage]:
        """Return the optimized view of the conversation for this request."""
        return self._run(recorder, self._history_step(messages))

    async def ahistory(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder
    ) -> list[BaseMessage]:
        """Async :meth:`history`: awaits ``aoptimize`` / ``ainvoke``."""
        return await self._arun(recorder, self._history_step(messages))


@dataclass(frozen=True)
class _Step(Generic[T]):
    """One optimizer step to run, measure and report; its fallback is the result on failure."""

    name: StepName
    fallback: T
    before: int | Callable[[], int] = 0
    measure: Callable[[T], int] = lambda _: 0
    work: Callable[[], T] | None = None
    """The sync work; ``None``: nothing to do, the fallback is the result (not reported)."""
    awork: Callable[[], Awaitable[T]] | None = None
    """The async work; ``None``: the sync work runs in a worker thread."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More ``StepEvent`` fields: values, or functions of the step's result."""

    @classmethod
    def skipped(cls, name: StepName, value: T) -> _Step[T]:
        """A step with nothing to do: ``value`` is its result, nothing is reported."""
        return cls(name, value)


@dataclass(frozen=True)
class _Store:
    """One response-cache store: the cache, the key, the answer and its lifetime."""

    cache: ResponseCache
    key: RequestKey
    generations: list[ChatGeneration]
    ttl: float | None

    def run(self) -> bool:
        return self.cache.update_request(self.key, self.generations, ttl=self.ttl)

    async def arun(self) -> bool:
        return await self.cache.aupdate_request(self.key, self.generations, ttl=self.ttl)


def _stored(stored: bool) -> bool:
    if not stored:
        logger.debug("tokenopt cache store skipped: the cache has no per-entry TTL")
    return stored


def _store_failed(exc: Exception) -> bool:
    logger.warning("tokenopt cache store failed (%s)", type(exc).__name__)
    return False


class _Optimized:
    """The figures of one ``ContextOptimizer`` run (its result counts lazily)."""

    def __init__(self, counter: TokenCounter, items: list[BaseMessage]) -> None:
        self.counter, self.items = counter, items
        self.result: ContextResult | None = None

    def keep(self, result: ContextResult) -> list[BaseMessage]:
        self.result = result
        return result.messages

    def before(self) -> int:
        if self.result is not None:
            return self.result.tokens_before
        return self.counter.count_messages(self.items)

    def after(self, out: list[BaseMessage]) -> int:
        if self.result is not None:
            return self.result.tokens_after
        return self.counter.count_messages(out)


class _Stepwise:
    """One prefix-stable history step: the view, the kept value and the stable messages."""

    def __init__(
        self,
        optimizer: ContextOptimizer,
        items: list[BaseMessage],
        previous: CompactedView | None,
        compact_to: float,
    ) -> None:
        self.optimizer, self.items, self.previous = optimizer, items, previous
        self.compact_to = compact_to
        self.done: tuple[list[BaseMessage], CompactedView, bool] | None = None

    def run(self) -> list[BaseMessage]:
        self.done = stepwise_view(
            self.optimizer, self.items, self.previous, compact_to=self.compact_to
        )
        return self.done[0]

    def before(self) -> int:
        return history_tokens(self.optimizer, self.items)

    def after(self, out: list[BaseMessage]) -> int:
        return history_tokens(self.optimizer, out)

    def result(self, view: list[BaseMessage]) -> tuple[list[BaseMessage], Any, int]:
        if self.done is None:
            return view, None, 0
        _, new, _compacted = self.done
        return view, new.to_state(), len(new.messages)


def _cache_extra() -> dict[str, Callable[[CacheAnswer], Any]]:
    return {
        "cache_hit": lambda a: bool(a.generations),
        "cache_layer": lambda a: a.layer if a.generations else None,
    }


def _cache_result(answer: CacheAnswer) -> tuple[AIMessage | None, CacheLayer | None]:
    return _answer_message(answer), (answer.layer if answer.generations else None)


def _answer_message(answer: CacheAnswer) -> AIMessage | None:
    if not answer.generations:
        return None
    generation = answer.generations[0]
    if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
        return generation.message
    return AIMessage(content=generation.text)


def _system_text(system_prompt: Any) -> str:
    if system_prompt is None:
        return ""
    if isinstance(system_prompt, str):
        return system_prompt
    if isinstance(system_prompt, ModularPrompt):  # every module, in order
        return system_prompt.separator.join(m.text for m in system_prompt.modules)
    text = getattr(system_prompt, "text", None)
    if callable(text):
        return str(text())
    if isinstance(text, str):
        return text
    render = getattr(system_prompt, "render", None)
    if callable(render):
        return str(render())
    return str(system_prompt)
