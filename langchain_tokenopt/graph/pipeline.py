"""The optimizer steps around one LLM call, shared by the graph nodes and the middleware.

One request flows through: response-cache lookup → tool selection → system-prompt
compression → history optimization → the model → response-cache store. Every step is
measured (tokens before/after, latency) and reported to the monitor, and every step
*fails open*: if it raises, the error is logged with its type only (never the prompt), the
step is reported with ``error=<type>``, and the request goes on unoptimized.

Example:
    .. code-block:: python

        pipeline = OptimizerPipeline(model=llm, tools=tools, system_prompt="You are ...")
        answer, lookup = pipeline.lookup(messages, config)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration

from langchain_tokenopt.cache.tool_policy import cacheable_ttls, turn_store_decision
from langchain_tokenopt.context import ContextOptimizer, ContextResult
from langchain_tokenopt.context.compaction import (
    DEFAULT_COMPACT_TO,
    CompactedView,
    history_tokens,
    stepwise_view,
)
from langchain_tokenopt.graph.defaults import tool_name
from langchain_tokenopt.graph.prefix import provider_of
from langchain_tokenopt.monitoring.handler import REQUEST_ID_KEY, find_handlers
from langchain_tokenopt.monitoring.records import StepEvent, StepName
from langchain_tokenopt.tokens import TokenCounter, tool_schema_json
from langchain_tokenopt.tools.selector import ToolSelector

logger = logging.getLogger(__name__)

__all__ = [
    "CacheKeyParts",
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


def trim_by_margin(selection: Any, margin: float) -> tuple[list[Any], list[str]]:
    """Keep the retrieved tools that score within ``margin`` of the best one.

    When retrieval is confident (one tool far ahead) the runners-up are dropped; when scores
    are close they all stay. Tools named in the query, loaded by ``find_tools``, carried
    from a recent call, always included (no score) and the ``find_tools`` meta-tool itself
    are never dropped, so the model can still load what was trimmed.

    Args:
        selection: A :class:`~langchain_tokenopt.ToolSelection` (``tools``, ``names``,
            ``scores``, ``forced``, ``loaded``, ``carried``).
        margin: Largest gap, in retrieval score (the retriever's probability that a tool is
            needed, or the fused score with ``rerank=False``), to the best tool.

    Returns:
        ``(tools, names)`` in the selection's order.

    Example:
        .. code-block:: python

            tools, names = trim_by_margin(selector.select(messages), 0.1)
    """
    tools, names = list(selection.tools), list(selection.names)
    scores: dict[str, float] = dict(getattr(selection, "scores", None) or {})
    if not scores:
        return tools, names
    keep_always = {
        *(getattr(selection, "forced", None) or []),
        *(getattr(selection, "loaded", None) or []),
        *(getattr(selection, "carried", None) or []),
    }
    floor = max(scores.values()) - margin
    pairs = [
        (tool, name)
        for tool, name in zip(tools, names, strict=True)
        if name not in scores or name in keep_always or scores[name] >= floor
    ]
    return [t for t, _ in pairs], [n for _, n in pairs]


@dataclass(frozen=True)
class ToolChoice:
    """The tools bound to one model call and the thread's working set after it."""

    tools: list[Any]
    """The tool objects to bind (what the user passed, plus ``find_tools``)."""
    names: list[str]
    """Their names, in the same order."""
    working_set: Any = None
    """The working set to keep in the agent state (``None`` when no selector keeps one)."""


@dataclass(frozen=True)
class CacheKeyParts:
    """The strings a :class:`~langchain_core.caches.BaseCache` is called with for one turn."""

    prompt: str
    """The unoptimized prompt (system prompt + whole conversation), serialized."""
    llm_string: str
    """Model identity plus the whole tool catalog (their digest is part of the scope)."""


@dataclass
class StepRecorder:
    """Collects the step events of one model request and forwards them to monitors."""

    request_id: str
    monitors: list[Any] = field(default_factory=list)
    events: list[StepEvent] = field(default_factory=list)

    def add(self, event: StepEvent) -> None:
        self.events.append(event)
        for monitor in self.monitors:
            try:
                monitor.record_step(self.request_id, event)
            except Exception as exc:  # noqa: BLE001 - monitoring must never break a request
                logger.warning("tokenopt monitor failed to record a step: %s", type(exc).__name__)


class OptimizerPipeline:
    """Run the optimizer steps of one request, measured and failing open.

    Args:
        model: The chat model the agent calls.
        tools: The whole tool catalog.
        system_prompt: The unoptimized system prompt (a string, a ``ModularPrompt`` or None).
        cache: A LangChain ``BaseCache`` (e.g. :class:`~langchain_tokenopt.SemanticCache`) or
            None to skip the response cache.
        tool_selector: A :class:`~langchain_tokenopt.ToolSelector` or None to bind every tool.
        prompt_compressor: Callable ``(system_prompt, question) -> str`` or None.
        context_optimizer: A ``Runnable`` over messages (e.g.
            :class:`~langchain_tokenopt.ContextOptimizer`) or None.
        monitor: A :class:`~langchain_tokenopt.TokenOptCallbackHandler` or None.
        counter: Token counter for the before/after figures.
        tool_margin: Trim the selected tools to those within this retrieval-score gap of the
            best one (:func:`trim_by_margin`); ``None`` binds the selector's choice as is.
        cacheable_tools: ``{tool name: lifetime in seconds}`` of tools whose turns may be
            stored (also read from a tool's ``cache_ttl`` metadata); other tool-using
            turns are never stored.
        prefix_stable: Keep the request prefix stable within a thread for the provider's
            prompt cache: the system prompt fitted once per thread, the history compacted
            in steps (:mod:`~langchain_tokenopt.context.compaction`), breakpoints or a
            cache key per provider (:mod:`~langchain_tokenopt.graph.prefix`).
        compact_to: The history grows to its budget / ``compact_to`` between compactions.
    """

    def __init__(
        self,
        *,
        model: BaseChatModel,
        tools: Sequence[Any],
        system_prompt: Any,
        cache: Any,
        tool_selector: Any,
        prompt_compressor: Callable[[Any, str], str] | None,
        context_optimizer: Any,
        monitor: Any,
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
        self._identity = json.dumps(model_identity(model), sort_keys=True, default=str)
        self._catalog_json = [tool_schema_json(t) for t in self.tools]
        self._catalog_tokens = counter.count_tools(self.tools) if self.tools else 0
        self._full_system = _system_text(system_prompt)
        self._system_tokens = counter.count(self._full_system) if self._full_system else 0
        self._fitted: OrderedDict[str, str] = OrderedDict()
        self._memo_lock = threading.Lock()

    # ------------------------------------------------------------------ monitoring
    def recorder(self, request_id: str, config: Mapping[str, Any] | None) -> StepRecorder:
        """Return a recorder that reports to our monitor and to handlers in ``config``."""
        monitors: list[Any] = [self.monitor] if self.monitor is not None else []
        for handler in find_handlers(config):
            if all(handler is not m for m in monitors):
                monitors.append(handler)
        return StepRecorder(request_id=request_id, monitors=monitors)

    def model_config(self, config: Mapping[str, Any] | None, request_id: str) -> dict[str, Any]:
        """Config for the model call: our monitor as a callback, the request id in metadata."""
        callbacks: list[Any] = []
        if self.monitor is not None and all(h is not self.monitor for h in find_handlers(config)):
            callbacks.append(self.monitor)
        metadata = {REQUEST_ID_KEY: request_id}
        return (
            {"callbacks": callbacks, "metadata": metadata} if callbacks else {"metadata": metadata}
        )

    def _run(
        self,
        recorder: StepRecorder,
        step: StepName,
        before: int | Callable[[], int],
        work: Callable[[], T],
        fallback: T,
        measure: Callable[[T], int],
        **extra: Any,
    ) -> T:
        start = time.perf_counter()
        error: str | None = None
        try:
            value = work()
            after = measure(value)
            latency = (time.perf_counter() - start) * 1000
            tokens_before = before() if callable(before) else before
        except Exception as exc:  # noqa: BLE001 - optimizers fail open by design
            logger.warning(
                "tokenopt %s step failed (%s); the request goes on unoptimized",
                step,
                type(exc).__name__,
            )
            tokens_before = before() if callable(before) else before
            value, after, error = fallback, tokens_before, type(exc).__name__
            extra = {k: v for k, v in extra.items() if k in ("tools_catalog",)}
            latency = (time.perf_counter() - start) * 1000
        extra_values = {k: (v(value) if callable(v) else v) for k, v in extra.items()}
        recorder.add(
            StepEvent(
                step=step,
                tokens_before=tokens_before,
                tokens_after=after,
                latency_ms=latency,
                error=error,
                **extra_values,
            )
        )
        return value

    # ------------------------------------------------------------------ cache
    def cache_key(self, messages: Sequence[BaseMessage]) -> CacheKeyParts:
        """Build the response-cache key from the *unoptimized* request.

        The key holds the full system prompt, the whole conversation (the cache embeds only
        the newest human message and digests the rest) and the whole tool catalog, so the
        optimizations that follow never change which entry a question maps to.
        """
        system = [SystemMessage(self._full_system)] if self._full_system else []
        # Message ids are generated per run: left in, no plain BaseCache would ever match a
        # repeated turn (SemanticCache ignores them on its own).
        bare = [m.model_copy(update={"id": None}) if m.id else m for m in messages]
        prompt = dumps([*system, *bare])
        params = [("stop", None), ("tools", self._catalog_json)]
        return CacheKeyParts(prompt=prompt, llm_string=f"{self._identity}---{sorted(params)}")

    def request_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens of the unoptimized request: system prompt, messages and every tool."""
        system = [SystemMessage(self._full_system)] if self._full_system else []
        return self.counter.count_messages([*system, *messages]) + self._catalog_tokens

    def lookup(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, scope: Mapping[str, Any]
    ) -> tuple[AIMessage | None, str | None]:
        """Look the turn up in the response cache; return ``(answer, layer)``."""
        if self.cache is None:
            return None, None
        key = self.cache_key(messages)
        before = self.request_tokens(messages)
        found: dict[str, Any] = {"layer": None}

        def work() -> AIMessage | None:
            with _scoped(scope):
                if hasattr(self.cache, "lookup_detailed"):
                    result, generations = self.cache.lookup_detailed(key.prompt, key.llm_string)
                    found["layer"] = getattr(getattr(result, "hit", None), "kind", None)
                else:
                    generations = self.cache.lookup(key.prompt, key.llm_string)
                    found["layer"] = "exact" if generations else None
            if not generations:
                return None
            generation = generations[0]
            if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
                return generation.message
            return AIMessage(content=generation.text)

        answer = self._run(
            recorder,
            "cache",
            before,
            work,
            None,
            lambda a: 0 if a is not None else before,
            cache_hit=lambda a: a is not None,
            cache_layer=lambda a: _layer(found["layer"]) if a is not None else None,
        )
        return answer, (_layer(found["layer"]) if answer is not None else None)

    def store(
        self,
        key: CacheKeyParts,
        answer: AIMessage,
        scope: Mapping[str, Any],
        messages: Sequence[BaseMessage] = (),
    ) -> bool:
        """Store the turn's final answer when its tools allow it; never raises.

        ``messages`` is the conversation the answer ends: a turn that called a tool not
        declared cacheable is not stored, and one that called only cacheable tools is stored
        with the smallest of their lifetimes (:mod:`~langchain_tokenopt.cache.tool_policy`).
        A cache that cannot give one entry its own lifetime (not a ``SemanticCache``) stores
        only turns without tool calls. Returns whether the answer was stored.
        """
        if self.cache is None:
            return False
        decision = turn_store_decision(messages, self.cacheable_ttls)
        if not decision.store:
            logger.debug("tokenopt cache store skipped: %s", decision.reason)
            return False
        try:
            generations = [ChatGeneration(message=answer)]
            with _scoped(scope):
                if decision.ttl is None:
                    self.cache.update(key.prompt, key.llm_string, generations)
                elif _takes_ttl(self.cache):
                    self.cache.update(key.prompt, key.llm_string, generations, ttl=decision.ttl)
                else:
                    logger.debug("tokenopt cache store skipped: the cache has no per-entry TTL")
                    return False
        except Exception as exc:  # noqa: BLE001 - fail open
            logger.warning("tokenopt cache store failed (%s)", type(exc).__name__)
            return False
        return True

    # ------------------------------------------------------------------ tools
    def select_tools(
        self,
        messages: Sequence[BaseMessage],
        recorder: StepRecorder,
        working_set: Any = None,
    ) -> ToolChoice:
        """Choose the tools of this model call and the thread's next working set.

        ``working_set`` is the value kept in the agent state (``None`` on a fresh thread or
        an old checkpoint); the returned :class:`ToolChoice` carries the one to keep.
        """
        if not self.tools and self.tool_selector is None:
            return ToolChoice([], [], working_set)
        if self.tool_selector is None:
            return ToolChoice(list(self.tools), [tool_name(t) for t in self.tools], working_set)
        everything = ToolChoice(list(self.tools), [tool_name(t) for t in self.tools], working_set)
        selector = self.tool_selector

        def work() -> ToolChoice:
            if isinstance(selector, ToolSelector):
                selection = selector.select(
                    list(messages), working_set=working_set, margin=self.tool_margin
                )
                return ToolChoice(
                    list(selection.tools), list(selection.names), selection.working_set
                )
            selection = selector.select(list(messages))
            if self.tool_margin is not None:
                return ToolChoice(*trim_by_margin(selection, self.tool_margin), working_set)
            return ToolChoice(list(selection.tools), list(selection.names), working_set)

        return self._run(
            recorder,
            "tool_selection",
            self._catalog_tokens,
            work,
            everything,
            lambda v: self.counter.count_tools(v.tools) if v.tools else 0,
            tools_bound=lambda v: len(v.tools),
            tools_catalog=len(self.tools),
        )

    # ------------------------------------------------------------------ system prompt
    def system_text(self, question: str, recorder: StepRecorder, kept: str | None = None) -> str:
        """Return the system prompt for this request, compressed when a compressor is set.

        The fitted prompt is memoized per question: the calls of one tool loop (same
        question) send the same system prompt without compressing it again. In the
        prefix-stable mode, ``kept`` (the thread's prompt, fitted on its first question) is
        sent again as it is.
        """
        if not self._full_system:
            return ""
        if self.prompt_compressor is None:
            return self._full_system
        before = self._system_tokens
        compressor = self.prompt_compressor

        def work() -> str:
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

        return self._run(
            recorder, "compression", before, work, self._full_system, self.counter.count
        )

    # ------------------------------------------------------------------ history
    def stable_history(
        self, messages: Sequence[BaseMessage], recorder: StepRecorder, kept: Any
    ) -> tuple[list[BaseMessage], Any, int]:
        """The prefix-stable view: ``(view, value to keep in the state, stable messages)``.

        The kept view plus the new messages is sent while it fits the budget / ``compact_to``;
        past that, one compaction brings the history back to the budget. ``stable messages`` is how
        many leading messages of the view were sent last time too (a breakpoint goes there).
        Other optimizers (not a :class:`ContextOptimizer`) fall back to :meth:`history`.
        """
        optimizer = self.context_optimizer
        if not self.prefix_stable or not isinstance(optimizer, ContextOptimizer):
            return self.history(messages, recorder), kept, 0
        items = list(messages)
        previous = CompactedView.from_state(kept)
        done: list[tuple[list[BaseMessage], CompactedView, bool]] = []

        def work() -> list[BaseMessage]:
            done.append(stepwise_view(optimizer, items, previous, compact_to=self.compact_to))
            return done[-1][0]

        view = self._run(
            recorder,
            "context",
            lambda: history_tokens(optimizer, items),
            work,
            items,
            lambda out: history_tokens(optimizer, out),
        )
        if not done:
            return view, None, 0
        _, new, _compacted = done[-1]
        return view, new.to_state(), len(new.messages)

    def history(self, messages: Sequence[BaseMessage], recorder: StepRecorder) -> list[BaseMessage]:
        """Return the optimized view of the conversation for this request."""
        items = list(messages)
        if self.context_optimizer is None:
            return items
        optimizer = self.context_optimizer
        if isinstance(optimizer, ContextOptimizer):
            # Its result counts the input lazily and memoized per message: a long thread's
            # old messages are not counted again on every call.
            done: list[ContextResult] = []

            def optimize() -> list[BaseMessage]:
                done.append(optimizer.optimize(items))
                return done[-1].messages

            def before() -> int:
                return done[-1].tokens_before if done else self.counter.count_messages(items)

            return self._run(
                recorder,
                "context",
                before,
                optimize,
                items,
                lambda out: done[-1].tokens_after if done else self.counter.count_messages(out),
            )
        return self._run(
            recorder,
            "context",
            self.counter.count_messages(items),
            lambda: list(optimizer.invoke(items)),
            items,
            self.counter.count_messages,
        )


def _takes_ttl(cache: Any) -> bool:
    """Whether ``cache.update`` accepts a per-entry ``ttl`` (our ``SemanticCache`` does)."""
    from langchain_tokenopt.cache import SemanticCache

    return isinstance(cache, SemanticCache)


def _layer(value: Any) -> Any:
    return value if value in ("exact", "semantic") else None


def _system_text(system_prompt: Any) -> str:
    if system_prompt is None:
        return ""
    if isinstance(system_prompt, str):
        return system_prompt
    modules = getattr(system_prompt, "modules", None)
    if modules is not None:  # a ModularPrompt: every module, in order
        return str(getattr(system_prompt, "separator", "\n\n")).join(m.text for m in modules)
    text = getattr(system_prompt, "text", None)
    if callable(text):
        return str(text())
    if isinstance(text, str):
        return text
    render = getattr(system_prompt, "render", None)
    if callable(render):
        return str(render())
    return str(system_prompt)


class _scoped:
    """Enter ``cache_scope`` for the tenant/user of a call (no-op when none is given)."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        self._scope = {k: v for k, v in scope.items() if isinstance(v, str) and v}
        self._cm: Any = None

    def __enter__(self) -> None:
        if self._scope:
            from langchain_tokenopt.cache import cache_scope

            self._cm = cache_scope(**self._scope)
            self._cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)
