from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_tokenopt.cache import SemanticCache, cache_scope
from langchain_tokenopt.errors import TokenOptConfigError

from .conftest import CountingEmbeddings
from .helpers import ServingModel, chat_prompt, conversation, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="Paris.")]


def test_paraphrase_is_a_semantic_hit(make_cache: MakeCache) -> None:
    cache, llm = make_cache(), llm_string()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    result, gens = cache.lookup_detailed(chat_prompt("What is France's capital?"), llm)
    assert gens == GEN
    assert result.outcome == "semantic_hit"
    assert result.hit is not None and 0.8 < result.hit.similarity < 1.0
    assert cache.stats().semantic_hits == 1


def test_exact_repeat_never_calls_the_embedder(
    make_cache: MakeCache, embeddings: CountingEmbeddings
) -> None:
    cache, llm = make_cache(), llm_string()
    prompt = chat_prompt("How do I reset my password?")
    cache.update(prompt, llm, GEN)
    calls = embeddings.calls
    for _ in range(3):
        result, gens = cache.lookup_detailed(chat_prompt("How do I reset  my password? "), llm)
        assert result.outcome == "exact_hit" and gens == GEN
    assert embeddings.calls == calls
    stats = cache.stats()
    assert stats.exact_hits == 3 and stats.embedding_ms == 0.0


def test_same_question_never_crosses_scopes(make_cache: MakeCache) -> None:
    cache = make_cache()
    question = "What is the refund policy?"
    gpt, other = ServingModel(responses=["x"]), ServingModel(responses=["x"], model_name="fake-2")
    stored = [
        ("tenant a", {"tenant_id": "a"}, chat_prompt(question), llm_string(gpt)),
        ("tenant b", {"tenant_id": "b"}, chat_prompt(question), llm_string(gpt)),
        ("user a/u2", {"tenant_id": "a", "user_id": "u2"}, chat_prompt(question), llm_string(gpt)),
        ("model 2", {}, chat_prompt(question), llm_string(other)),
        ("system 1", {}, chat_prompt(question, system="Answer for EU customers."), llm_string(gpt)),
        ("system 2", {}, chat_prompt(question, system="Answer for US customers."), llm_string(gpt)),
        (
            "history 1",
            {},
            chat_prompt(question, history=conversation("I bought shoes", "ok")),
            llm_string(gpt),
        ),
        (
            "history 2",
            {},
            chat_prompt(question, history=conversation("I bought a TV", "ok")),
            llm_string(gpt),
        ),
    ]
    for label, scope, prompt, llm in stored:
        with cache_scope(**scope):
            cache.update(prompt, llm, [Generation(text=label)])
    for label, scope, prompt, llm in stored:
        with cache_scope(**scope):
            assert cache.lookup(prompt, llm) == [Generation(text=label)]
            # a paraphrase in the same scope finds its own scope's answer only
            para = prompt.replace("What is the refund policy?", "What's the refund policy?")
            got = cache.lookup(para, llm)
            assert got in (None, [Generation(text=label)])
    with cache_scope(tenant_id="c"):
        assert cache.lookup(chat_prompt(question), llm_string(gpt)) is None


def test_follow_up_misses_outside_its_conversation(make_cache: MakeCache) -> None:
    cache, llm = make_cache(), llm_string()
    france = conversation("Who is the president of France?", "Emmanuel Macron.")
    usa = conversation("Who is the president of the USA?", "The president is ...")
    cache.update(chat_prompt("And how old is he?", history=france), llm, [Generation(text="47")])
    assert cache.lookup(chat_prompt("And how old is he?", history=usa), llm) is None
    assert cache.lookup(chat_prompt("And how old is he?"), llm) is None
    assert cache.lookup(chat_prompt("And how old is he?", history=france), llm) is not None


def test_volatile_fields_still_hit_and_tools_do_not(make_cache: MakeCache) -> None:
    cache = make_cache()
    prompt = chat_prompt("What is the weather in Paris?")
    cache.update(prompt, llm_string(ServingModel(responses=["x"], request_timeout=5)), GEN)
    assert (
        cache.lookup(prompt, llm_string(ServingModel(responses=["x"], request_timeout=50))) == GEN
    )
    with_tools = llm_string(ServingModel(responses=["x"]), tools=[{"name": "weather"}])
    assert cache.lookup(prompt, with_tools) is None


def test_temperature_above_zero_bypasses_by_default(make_cache: MakeCache) -> None:
    warm = llm_string(ServingModel(responses=["x"], temperature=0.7))
    prompt = chat_prompt("Write a haiku about caching")
    cache = make_cache()
    cache.update(prompt, warm, GEN)
    assert cache.lookup(prompt, warm) is None
    assert cache.stats().bypasses == 1 and cache.stats().updates == 0
    cold = llm_string(ServingModel(responses=["x"], temperature=0.0))
    cache.update(prompt, cold, GEN)
    assert cache.lookup(prompt, cold) == GEN
    keen = make_cache("keen.sqlite3", temperature_policy="cache")
    keen.update(prompt, warm, GEN)
    assert keen.lookup(prompt, warm) == GEN


@pytest.mark.parametrize("bad", [math.nan, 1.5, -1.01, "0.9", True, None])
def test_threshold_is_a_validated_cosine(make_cache: MakeCache, bad: object) -> None:
    with pytest.raises(TokenOptConfigError, match="cosine"):
        make_cache(similarity_threshold=bad)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": -5}, "ttl"),
        ({"temperature_policy": "sometimes"}, "policy"),
        ({"max_embed_chars": 0}, "max_embed_chars"),
    ],
)
def test_bad_config_is_refused(make_cache: MakeCache, kw: dict[str, object], match: str) -> None:
    with pytest.raises(TokenOptConfigError, match=match):
        make_cache(**kw)


def test_threshold_one_only_serves_exact(make_cache: MakeCache) -> None:
    cache, llm = make_cache(similarity_threshold=1.0), llm_string()
    cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
    assert cache.lookup(chat_prompt("What is France's capital?"), llm) is None
    assert cache.lookup(chat_prompt("What is the capital of France?"), llm) == GEN


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("How do I turn on dark mode?", "How do I turn off dark mode?"),
        (
            "Is it safe to drink tap water in Berlin?",
            "Is it not safe to drink tap water in Berlin?",
        ),
        ("Convert 10 km to miles", "Convert 12 km to miles"),
        ("Book a flight to Paris on May 3", "Book a flight to Paris on June 3"),
    ],
)
def test_verifier_blocks_near_misses_that_pass_the_threshold(
    make_cache: MakeCache, stored: str, asked: str
) -> None:
    llm = llm_string()
    strict = make_cache(similarity_threshold=0.6)
    strict.update(chat_prompt(stored), llm, GEN)
    result, gens = strict.lookup_detailed(chat_prompt(asked), llm)
    assert gens is None and result.outcome == "rejected" and result.reason
    loose = make_cache("loose.sqlite3", similarity_threshold=0.6, verify_hits=False)
    loose.update(chat_prompt(stored), llm, GEN)
    assert loose.lookup(chat_prompt(asked), llm) == GEN  # what the verifier prevents
    assert strict.stats().verifier_rejections == 1


def test_ttl_expires_entries(make_cache: MakeCache) -> None:
    cache, llm = make_cache(ttl=0.3), llm_string()
    prompt = chat_prompt("What is the capital of France?")
    cache.update(prompt, llm, GEN)
    assert cache.lookup(prompt, llm) == GEN
    time.sleep(0.4)
    assert cache.lookup(prompt, llm) is None
    assert cache.lookup(chat_prompt("What is France's capital?"), llm) is None


def test_max_entries_evicts_least_recently_used(make_cache: MakeCache) -> None:
    cache, llm = make_cache(backend_kw={"max_entries": 3}), llm_string()
    prompts = [
        chat_prompt(q)
        for q in ("alpha question", "beta question", "gamma question", "delta question")
    ]
    for p in prompts[:3]:
        cache.update(p, llm, GEN)
        time.sleep(0.01)
    assert cache.lookup(prompts[0], llm) == GEN  # alpha is now most recently used
    cache.update(prompts[3], llm, GEN)
    assert cache.backend.count() == 3
    assert cache.lookup(prompts[1], llm) is None  # beta was the LRU entry
    assert cache.lookup(prompts[0], llm) == GEN


def test_clear_by_tenant_model_and_delete_by_id(make_cache: MakeCache) -> None:
    cache = make_cache()
    one, two = ServingModel(responses=["x"]), ServingModel(responses=["x"], model_name="fake-2")
    prompt = chat_prompt("What is the refund policy?")
    for tenant in ("a", "b"):
        with cache_scope(tenant_id=tenant):
            cache.update(prompt, llm_string(one), GEN)
            cache.update(prompt, llm_string(two), GEN)
    cache.clear(tenant_id="a")
    with cache_scope(tenant_id="a"):
        assert cache.lookup(prompt, llm_string(one)) is None
    with cache_scope(tenant_id="b"):
        assert cache.lookup(prompt, llm_string(one)) == GEN
        cache.clear(model="fake-2")
        assert cache.lookup(prompt, llm_string(two)) is None
        result, _ = cache.lookup_detailed(prompt, llm_string(one))
        assert result.hit is not None
        assert result.hit.entry_id == cache.entry_id(prompt, llm_string(one))
        assert cache.delete(result.hit.entry_id) is True
        assert cache.delete(result.hit.entry_id) is False
        assert cache.lookup(prompt, llm_string(one)) is None
    with pytest.raises(TokenOptConfigError):
        cache.delete("not-an-id")
    with pytest.raises(TokenOptConfigError):
        cache.clear(colour="red")


def test_bad_inputs_have_defined_behaviour(
    make_cache: MakeCache, embeddings: CountingEmbeddings
) -> None:
    cache, llm = make_cache(), llm_string()
    assert cache.lookup("", llm) is None
    assert cache.lookup("   ", llm) is None
    cache.update("", llm, GEN)
    assert cache.stats().bypasses == 2 and cache.stats().updates == 0
    with pytest.raises(TypeError):
        cache.lookup(b"bytes", llm)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cache.update(chat_prompt("x"), None, GEN)  # type: ignore[arg-type]
    huge = "lorem ipsum " * 90_000  # ~1 MB: cached by exact match only, never embedded
    calls = embeddings.calls
    cache.update(huge, llm, GEN)
    assert cache.lookup(huge, llm) == GEN
    assert cache.lookup(huge + " tail", llm) is None
    assert embeddings.calls == calls


def test_chat_model_round_trip_keeps_tool_calls_and_metadata(make_cache: MakeCache) -> None:
    cache, llm = make_cache(), llm_string()
    message = AIMessage(
        content="",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls"},
        additional_kwargs={"parsed": {"city": "Paris", "unit": "C"}},
    )
    gens = [ChatGeneration(message=message, generation_info={"finish_reason": "tool_calls"})]
    cache.update(chat_prompt("weather in Paris?"), llm, gens)
    got = cache.lookup(chat_prompt("weather in Paris?"), llm)
    assert got == gens
    assert got is not None and isinstance(got[0], ChatGeneration)
    assert got[0].message.tool_calls[0]["args"] == {"city": "Paris"}  # type: ignore[attr-defined]


def test_drop_in_set_llm_cache_with_a_chat_model(make_cache: MakeCache) -> None:
    cache = make_cache()
    model = ServingModel(responses=["Paris.", "Berlin."])
    set_llm_cache(cache)
    try:
        assert model.invoke("What is the capital of France?").content == "Paris."
        assert model.invoke("What is the capital of France?").content == "Paris."
        assert model.invoke("What is France's capital?").content == "Paris."
        assert model.invoke("What is the capital of Germany?").content == "Berlin."
        with cache_scope(tenant_id="other"):
            assert model.invoke("What is the capital of France?").content == "Paris."  # fresh call
        stats = cache.stats()
        assert stats.exact_hits == 1 and stats.semantic_hits == 1
    finally:
        set_llm_cache(None)


def test_runnable_config_metadata_sets_the_scope(make_cache: MakeCache) -> None:
    from langchain_core.runnables import RunnableLambda

    cache = make_cache()
    model = ServingModel(responses=["A", "B", "C"])
    chain = RunnableLambda(lambda q: q) | model
    set_llm_cache(cache)
    try:
        first = chain.invoke("Hello?", config={"metadata": {"tenant_id": "t1"}}).content
        again = chain.invoke("Hello?", config={"metadata": {"tenant_id": "t1"}}).content
        other = chain.invoke("Hello?", config={"metadata": {"tenant_id": "t2"}}).content
    finally:
        set_llm_cache(None)
    assert first == again == "A"
    assert other == "B"


async def test_async_path_matches_sync(make_cache: MakeCache) -> None:
    cache, llm = make_cache(), llm_string()
    await cache.aupdate(chat_prompt("What is the capital of France?"), llm, GEN)
    assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) == GEN
    result, gens = await cache.alookup_detailed(chat_prompt("What is France's capital?"), llm)
    assert gens == GEN and result.outcome == "semantic_hit"
    with cache_scope(tenant_id="x"):
        assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) is None
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.gather(
        *(cache.alookup(chat_prompt(f"question number {i}?"), llm) for i in range(5))
    )
    task.cancel()
    assert ticks > 5  # the loop kept running while embeddings were computed
    await cache.aclear()
    assert await cache.alookup(chat_prompt("What is the capital of France?"), llm) is None


def test_default_construction_is_drop_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, shared_embeddings: CountingEmbeddings
) -> None:
    from langchain_tokenopt import embeddings as emb_mod

    emb_mod.get_default_query_embeddings()  # built in the real user cache dir first
    monkeypatch.setenv("LANGCHAIN_TOKENOPT_HOME", str(tmp_path))
    cache = SemanticCache()
    try:
        assert str(cache.backend.path).startswith(str(tmp_path))  # type: ignore[attr-defined]
        llm = llm_string()
        cache.update(chat_prompt("What is the capital of France?"), llm, GEN)
        assert cache.lookup(chat_prompt("What is France's capital?"), llm) == GEN
    finally:
        cache.close()


def test_embedder_dimension_must_match_the_backend(embeddings: CountingEmbeddings) -> None:
    from langchain_tokenopt.cache import RedisBackend

    backend = RedisBackend(url="redis://127.0.0.1:1/0", dim=768)
    with pytest.raises(TokenOptConfigError, match="768"):
        SemanticCache(backend=backend, embeddings=embeddings)
