"""The optimizer steps around one LLM call, shared by the graph nodes and the middleware.

One request flows through: response-cache lookup → tool selection → system-prompt
compression → history optimization → the model → response-cache store. Each step's logic
lives in its own module:

* the cache key, lookup and store: :mod:`~langchain_tokenopt.graph.cache_step`;
* the tools to bind: :mod:`~langchain_tokenopt.graph.tool_step`;
* the fitted system prompt: :mod:`~langchain_tokenopt.graph.prompt_step`;
* the history view: :mod:`~langchain_tokenopt.graph.history_step`.

Every step runs measured and *failing open* (:mod:`~langchain_tokenopt.graph.step`): if it
raises, the error is logged with its type only (never the prompt), the step is reported with
``error=<type>``, and the request goes on unoptimized.

Example:
    .. code-block:: python

        pipeline = OptimizerPipeline(model=llm, tools=tools, system_prompt="You are ...", ...)
        recorder = pipeline.recorder("request-1", config)
        answer, layer = await pipeline.alookup(messages, recorder, {"tenant_id": "acme"})

``trim_by_margin`` lives in :mod:`langchain_tokenopt.tools.margin`, ``ToolChoice`` in
:mod:`~langchain_tokenopt.graph.tool_step` and ``model_identity`` in
:mod:`~langchain_tokenopt.graph.cache_step` (all re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from langchain_tokenopt.cache.keys import RequestKey, model_identity_of
from langchain_tokenopt.cache.tool_policy import cacheable_ttls
from langchain_tokenopt.graph.cache_step import (
    astore_answer,
    cache_result,
    lookup_step,
    model_identity,
    request_key,
    serialize_request,
    store_answer,
    store_plan,
)
from langchain_tokenopt.graph.defaults import (
    resolve_compressor,
    resolve_context_optimizer,
    resolve_tool_selector,
)
from langchain_tokenopt.graph.history_step import StableHistory, history_step, stable_step
from langchain_tokenopt.graph.options import OptimizerOptions
from langchain_tokenopt.graph.prefix import (
    compaction_share,
    prefix_caching_default,
    provider_of,
)
from langchain_tokenopt.graph.prompt_step import FittedPrompts, system_step, system_text_of
from langchain_tokenopt.graph.step import Step, arun_step, run_step
from langchain_tokenopt.graph.tool_step import ToolChoice, selection_step
from langchain_tokenopt.monitoring.handler import REQUEST_ID_KEY, find_handlers
from langchain_tokenopt.monitoring.reporting import StepRecorder
from langchain_tokenopt.protocols import (
    CacheAnswer,
    CacheLayer,
    HistoryOptimizer,
    PromptFitter,
    ResponseCache,
    StepMonitor,
    ToolSelectorLike,
)
from langchain_tokenopt.tokens import TokenCounter, tool_schema_json
from langchain_tokenopt.tools.margin import trim_by_margin

__all__ = [
    "OptimizerPipeline",
    "ToolChoice",
    "latest_human",
    "model_identity",
    "trim_by_margin",
]


def latest_human(messages: Sequence[BaseMessage]) -> HumanMessage | None:
    """Return the newest human message, or ``None``."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message
    return None


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
        compact_to: The history grows to its budget / ``compact_to`` between compactions
            (``None``: :func:`~langchain_tokenopt.graph.prefix.compaction_share` of the
            model's provider).

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
        compact_to: float | None = None,
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
        self.provider = provider_of(model)
        self.compact_to = compaction_share(self.provider) if compact_to is None else compact_to
        self._identity = model_identity_of(
            model_identity(model), tools=[tool_schema_json(t) for t in self.tools]
        )
        self._catalog_tokens = counter.count_tools(self.tools) if self.tools else 0
        self._full_system = system_text_of(system_prompt)
        self._system_tokens = counter.count(self._full_system) if self._full_system else 0
        self._fitted = FittedPrompts()

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
        return self.cache_key_of(serialize_request(self._full_system, messages), scope)

    def cache_key_of(self, prompt: str, scope: Mapping[str, str] | None = None) -> RequestKey:
        """The typed key of an already serialized request (``RequestKey.prompt``)."""
        return request_key(
            prompt, identity=self._identity, cacheable_ttls=self.cacheable_ttls, scope=scope
        )

    def request_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of the unoptimized request: system prompt, messages and every tool."""
        system = [SystemMessage(self._full_system)] if self._full_system else []
        return self.counter.count_messages([*system, *messages]) + self._catalog_tokens

    def _lookup_step(
        self, messages: Sequence[BaseMessage], scope: Mapping[str, str]
    ) -> Step[CacheAnswer]:
        if self.cache is None:
            return Step.skipped("cache", CacheAnswer())
        key = self.cache_key(messages, scope)
        return lookup_step(self.cache, key, before=self.request_tokens(messages))

    def lookup(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, scope: Mapping[str, str]
    ) -> tuple[AIMessage | None, CacheLayer | None]:
        """Look the turn up in the response cache; return ``(answer, layer)``."""
        return cache_result(run_step(recorder, self._lookup_step(messages, scope)))

    async def alookup(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, scope: Mapping[str, str]
    ) -> tuple[AIMessage | None, CacheLayer | None]:
        """Async :meth:`lookup`: awaits the cache's ``alookup_request``."""
        return cache_result(await arun_step(recorder, self._lookup_step(messages, scope)))

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
        return store_answer(store_plan(self.cache, key, answer, messages, self.cacheable_ttls))

    async def astore(
        self,
        key: RequestKey,
        answer: AIMessage,
        messages: Sequence[BaseMessage] = (),
    ) -> bool:
        """Async :meth:`store`: awaits the cache's ``aupdate_request``."""
        plan = store_plan(self.cache, key, answer, messages, self.cacheable_ttls)
        return await astore_answer(plan)

    # ------------------------------------------------------------------ tools
    def _selection_step(
        self, messages: Sequence[BaseMessage], working_set: dict[str, Any] | None
    ) -> Step[ToolChoice]:
        return selection_step(
            self.tool_selector,
            messages,
            working_set,
            tools=self.tools,
            margin=self.tool_margin,
            counter=self.counter,
            catalog_tokens=self._catalog_tokens,
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
        return run_step(recorder, self._selection_step(messages, working_set))

    async def aselect_tools(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        working_set: dict[str, Any] | None = None,
    ) -> ToolChoice:
        """Async :meth:`select_tools`: awaits a ``ToolSelector``'s ``aselect``.

        A selector with ``select`` only runs in a worker thread.
        """
        return await arun_step(recorder, self._selection_step(messages, working_set))

    # ------------------------------------------------------------------ system prompt
    def _fit(self, compressor: PromptFitter, question: str, kept: str | None) -> str:
        if self.prefix_stable and kept:
            return kept
        return self._fitted.fit(compressor, self.system_prompt, question)

    def _system_step(self, question: str, kept: str | None) -> Step[str]:
        compressor = self.prompt_compressor
        if compressor is None:
            return Step.skipped("compression", self._full_system)
        return system_step(
            self._full_system,
            lambda: self._fit(compressor, question, kept),
            before=self._system_tokens,
            count=self.counter.count,
        )

    def system_text(self, question: str, recorder: StepRecorder, kept: str | None = None) -> str:
        """Return the system prompt for this request, compressed when a compressor is set.

        The fitted prompt is memoized per question: the calls of one tool loop (same
        question) send the same system prompt without compressing it again. In the
        prefix-stable mode, ``kept`` (the thread's prompt, fitted on its first question) is
        sent again as it is.
        """
        return run_step(recorder, self._system_step(question, kept))

    async def asystem_text(
        self, question: str, recorder: StepRecorder, kept: str | None = None
    ) -> str:
        """Async :meth:`system_text` (a prompt fitter is sync: it runs in a worker thread)."""
        return await arun_step(recorder, self._system_step(question, kept))

    # ------------------------------------------------------------------ history
    def _stable_step(
        self, messages: Sequence[BaseMessage], kept: Any, prefix_broken: bool
    ) -> tuple[StableHistory, Step[list[BaseMessage]]] | None:
        if not self.prefix_stable:
            return None
        return stable_step(
            self.context_optimizer, messages, kept, self.compact_to, prefix_broken=prefix_broken
        )

    def stable_history(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        kept: Any,
        *,
        prefix_broken: bool = False,
    ) -> tuple[list[BaseMessage], Any, int]:
        """The prefix-stable view: ``(view, value to keep in the state, stable messages)``.

        The kept view plus the new messages is sent while it fits the budget / ``compact_to``;
        past that, one compaction brings the history back to the budget. ``stable messages`` is how
        many leading messages of the view were sent last time too (a breakpoint goes there).
        ``prefix_broken`` (the bound tools or the system prompt changed on this call, see
        :func:`~langchain_tokenopt.graph.prefix.head_key`): a view over the budget is compacted
        on this call, whose history the provider cannot read from its cache anyway.
        Other optimizers (not a :class:`ContextOptimizer`) fall back to :meth:`history`.
        """
        planned = self._stable_step(messages, kept, prefix_broken)
        if planned is None:
            return self.history(messages, recorder), kept, 0
        return planned[0].result(run_step(recorder, planned[1]))

    async def astable_history(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        kept: Any,
        *,
        prefix_broken: bool = False,
    ) -> tuple[list[BaseMessage], Any, int]:
        """Async :meth:`stable_history` (the compaction runs in a worker thread)."""
        planned = self._stable_step(messages, kept, prefix_broken)
        if planned is None:
            return await self.ahistory(messages, recorder), kept, 0
        return planned[0].result(await arun_step(recorder, planned[1]))

    def history(self, messages: Sequence[BaseMessage], recorder: StepRecorder) -> list[BaseMessage]:
        """Return the optimized view of the conversation for this request."""
        return run_step(recorder, history_step(self.context_optimizer, messages, self.counter))

    async def ahistory(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder
    ) -> list[BaseMessage]:
        """Async :meth:`history`: awaits ``aoptimize`` / ``ainvoke``."""
        step = history_step(self.context_optimizer, messages, self.counter)
        return await arun_step(recorder, step)
