"""The graph's typed seams: one options object, step protocols, a typed cache key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.tools import tool

from langchain_tokenopt.cache import CallerScope, LocalBackend, SemanticCache
from langchain_tokenopt.cache.keys import (
    RequestKey,
    build_key,
    build_request_key,
    model_identity_of,
)
from langchain_tokenopt.compression import ModularPrompt
from langchain_tokenopt.compression.module_fitter import ModuleFitter
from langchain_tokenopt.context import ContextOptimizer
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.graph import OptimizerOptions
from langchain_tokenopt.graph.defaults import LangChainResponseCache, resolve_cache
from langchain_tokenopt.graph.middleware import TokenOptMiddleware
from langchain_tokenopt.graph.pipeline import OptimizerPipeline, model_identity
from langchain_tokenopt.llms import LocalChatModel
from langchain_tokenopt.monitoring import MemoryMetricsStore, TokenOptCallbackHandler
from langchain_tokenopt.protocols import (
    HistoryOptimizer,
    PromptFitter,
    ResponseCache,
    StepMonitor,
    ToolSelectorLike,
)
from langchain_tokenopt.tokens import TokenCounter, tool_schema_json
from langchain_tokenopt.tools import ToolSelector


@tool
def get_store_hours(city: str) -> str:
    """Return the opening hours of the store in a city."""
    return f"The {city} store opens 9:00-18:00."


def _pipeline(model: LocalChatModel, cache: ResponseCache | None) -> OptimizerPipeline:
    return OptimizerPipeline(
        model=model,
        tools=[get_store_hours],
        system_prompt="You are a shop assistant.",
        cache=cache,
        tool_selector=None,
        prompt_compressor=None,
        context_optimizer=None,
        monitor=None,
        counter=TokenCounter("gpt-4o"),
    )


def test_the_typed_key_finds_the_entry_langchains_strings_find(llm: LocalChatModel) -> None:
    """Same model, tools, prompt and caller: the same scope and entry id as before."""
    catalog = [tool_schema_json(get_store_hours)]
    legacy = f"{json.dumps(model_identity(llm), sort_keys=True, default=str)}---" + str(
        sorted([("stop", None), ("tools", catalog)])
    )
    prompt = dumps([SystemMessage("You are a shop assistant."), HumanMessage("Open on Sunday?")])
    caller = CallerScope(tenant_id="acme", user_id="u1")
    typed = RequestKey(
        prompt=prompt, model=model_identity_of(model_identity(llm), tools=catalog), caller=caller
    )
    old, new = build_key(prompt, legacy, caller), build_request_key(typed, CallerScope())
    assert (new.entry_id, new.scope, new.model) == (old.entry_id, old.scope, old.model)
    other = RequestKey(prompt=prompt, model=typed.model, caller=CallerScope(tenant_id="beta"))
    assert build_request_key(other, CallerScope()).scope != old.scope


def test_the_pipeline_key_carries_the_caller(llm: LocalChatModel) -> None:
    pipeline = _pipeline(llm, None)
    messages = [HumanMessage("Open on Sunday?", id="run-specific")]
    key = pipeline.cache_key(messages, {"tenant_id": "acme"})
    assert key.caller == CallerScope(tenant_id="acme")
    assert pipeline.cache_key(messages).caller is None  # the current cache_scope decides
    assert "run-specific" not in key.prompt
    assert key.prompt == pipeline.cache_key([HumanMessage("Open on Sunday?")]).prompt


def test_semantic_cache_serves_typed_requests(llm: LocalChatModel, tmp_path: Path) -> None:
    cache = SemanticCache(backend=LocalBackend(path=tmp_path / "c.sqlite"), semantic=False)
    pipeline = _pipeline(llm, cache)
    messages = [HumanMessage("Is the Denver store open on Sunday?")]
    key = pipeline.cache_key(messages, {"tenant_id": "acme"})
    assert cache.lookup_request(key).generations is None
    assert pipeline.store(key, AIMessage("Yes, 10:00-16:00."), messages)
    found = cache.lookup_request(key)
    assert found.layer == "exact" and found.generations is not None
    assert found.generations[0].text == "Yes, 10:00-16:00."
    elsewhere = pipeline.cache_key(messages, {"tenant_id": "beta"})
    assert cache.lookup_request(elsewhere).generations is None
    with pytest.raises(TypeError):
        cache.lookup_request("a prompt")  # type: ignore[arg-type]


def test_a_plain_base_cache_is_wrapped_and_refuses_lifetimes(llm: LocalChatModel) -> None:
    wrapped = resolve_cache(InMemoryCache())
    assert isinstance(wrapped, LangChainResponseCache)
    key = _pipeline(llm, wrapped).cache_key([HumanMessage("Open on Sunday?")])
    answer = [ChatGeneration(message=AIMessage("Yes."))]
    assert wrapped.update_request(key, answer, ttl=60) is False
    assert wrapped.lookup_request(key).generations is None
    assert wrapped.update_request(key, answer) is True
    assert wrapped.lookup_request(key).layer == "exact"


def test_the_components_implement_the_step_protocols(tmp_path: Path) -> None:
    counter = TokenCounter("gpt-4o")
    prompt = ModularPrompt(
        [
            {"name": "core", "text": "You are the Acme support agent.", "core": True},
            {"name": "returns", "text": "Boots can be returned within 30 days."},
        ]
    )
    assert isinstance(
        SemanticCache(backend=LocalBackend(path=tmp_path / "c.sqlite")), ResponseCache
    )
    assert isinstance(ToolSelector.from_tools([get_store_hours]), ToolSelectorLike)
    assert isinstance(ModuleFitter(prompt, budget_tokens=200, token_counter=counter), PromptFitter)
    assert isinstance(ContextOptimizer(max_tokens=500, counter=counter), HistoryOptimizer)
    assert isinstance(TokenOptCallbackHandler(store=MemoryMetricsStore()), StepMonitor)


def test_factory_and_middleware_share_one_options_object() -> None:
    middleware = TokenOptMiddleware(cache=False, monitor=False)
    assert middleware.options == OptimizerOptions(cache=False, monitor=False)
    assert TokenOptMiddleware(cache=False).options.monitor is None  # the default: built, on
    assert isinstance(TokenOptMiddleware(cache=False)._monitor, TokenOptCallbackHandler)
    base = OptimizerOptions(cache=False, context_budget=2000)
    assert TokenOptMiddleware(options=base, tool_margin=None).options == OptimizerOptions(
        cache=False, context_budget=2000, tool_margin=None
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"cache": 42},
        {"tool_selector": 42},
        {"context_optimizer": "all"},
        {"monitor": object()},
        {"context_budget": 0},
        {"system_budget": True},
        {"compact_to": 2.0},
        {"prefix_stable": "yes"},
        {"cacheable_tools": ["lookup"]},
    ],
)
def test_invalid_options_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(TokenOptConfigError):
        OptimizerOptions(**settings)  # type: ignore[arg-type]
    with pytest.raises(TokenOptConfigError):
        OptimizerOptions().with_settings(**settings)  # type: ignore[misc]
