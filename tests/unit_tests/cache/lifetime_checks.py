"""Lifetime, tags, listing and deletion checks, run on both backends.

Each check takes a factory ``make(**SemanticCache kwargs) -> SemanticCache`` (a LocalBackend
in the unit tests, a RedisBackend on the fixture's server in the integration tests), so the
two backends are held to the same behaviour by the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.outputs import Generation
from langchain_core.runnables import RunnableLambda

from langchain_tokenopt.cache import SemanticCache, cache_entry_options, cache_scope
from langchain_tokenopt.errors import TokenOptConfigError

from .helpers import ServingModel, chat_prompt, llm_string

Make = Callable[..., SemanticCache]
GEN = [Generation(text="answer")]


def _gen(text: str) -> list[Generation]:
    return [Generation(text=text)]


def per_entry_ttl(make: Make) -> None:
    """``update(ttl=)`` beats the cache's lifetime, one entry at a time."""
    cache, llm = make(ttl=60), llm_string()
    short, long = chat_prompt("What is the return window?"), chat_prompt("Where is the HQ?")
    cache.update(short, llm, GEN, ttl=0.6)
    cache.update(long, llm, GEN)
    listed = {e.text: e for e in cache.entries()}
    assert listed["What is the return window?"].ttl == pytest.approx(0.6)
    assert listed["Where is the HQ?"].ttl == pytest.approx(60)
    time.sleep(0.9)
    assert cache.lookup(short, llm) is None
    assert cache.lookup(long, llm) == GEN
    assert [e.text for e in cache.entries()] == ["Where is the HQ?"]


def ttl_and_tags_from_context_and_metadata(make: Make) -> None:
    """LangChain passes nothing to ``update``: a block or the run's metadata sets them."""
    cache = make()
    model = ServingModel(responses=["one", "two", "three"])
    set_llm_cache(cache)
    try:
        with (
            cache_entry_options(ttl=30, tags=["pricing"]),
            cache_entry_options(tags=["eu"]),  # nested: tags add up, the ttl is inherited
        ):
            model.invoke("How much is the pro plan?")
        chain = RunnableLambda(lambda q: q) | model
        chain.invoke(
            "How much is the team plan?",
            config={"metadata": {"cache_ttl": 45, "cache_tags": ["faq"]}},
        )
        model.invoke("Who founded the company?")
    finally:
        set_llm_cache(None)
    listed = {e.text: e for e in cache.entries()}
    assert listed["How much is the pro plan?"].tags == ("eu", "pricing")
    assert listed["How much is the pro plan?"].ttl == pytest.approx(30)
    assert listed["How much is the team plan?"].tags == ("faq",)
    assert listed["How much is the team plan?"].ttl == pytest.approx(45)
    assert listed["Who founded the company?"].tags == ()
    assert listed["Who founded the company?"].expires_at is None
    # an explicit argument wins over the block; tags add up
    with cache_entry_options(ttl=30, tags=["pricing"]):
        cache.update(
            chat_prompt("What is the refund policy?"), llm_string(), GEN, ttl=5, tags=["x"]
        )
    policy = next(e for e in cache.entries() if e.text == "What is the refund policy?")
    assert policy.ttl == pytest.approx(5) and policy.tags == ("pricing", "x")


def refresh_on_hit(make: Make) -> None:
    """A hit moves the expiry to now + lifetime (opt-in); without it the entry expires."""
    llm, prompt = llm_string(), chat_prompt("Is the store open on Sundays?")
    paraphrase = chat_prompt("Is your store open on Sundays?")
    fresh, plain = make(refresh_on_hit=True), make()
    for cache in (fresh, plain):
        cache.update(prompt, llm, GEN, ttl=1.2)
    written = fresh.entries()[0].expires_at
    assert written is not None
    time.sleep(0.8)
    for cache in (fresh, plain):
        assert cache.lookup(prompt, llm) == GEN
    moved = fresh.entries()[0].expires_at
    assert moved is not None and moved > written + 0.5
    assert plain.entries()[0].expires_at == pytest.approx(written, abs=0.2)
    time.sleep(0.7)  # past the written expiry, inside the refreshed one
    assert plain.lookup(prompt, llm) is None
    result, gens = fresh.lookup_detailed(prompt, llm)
    assert result.outcome == "exact_hit" and gens == GEN
    result, gens = fresh.lookup_detailed(paraphrase, llm)  # the vector path sees it alive too
    assert result.outcome == "semantic_hit" and gens == GEN
    assert fresh.entries()[0].hits == 3


def tags_and_clear_by_tag(make: Make) -> None:
    cache, llm = make(semantic=False), llm_string()
    rows = {
        "pricing": ["pricing"],
        "both": ["pricing", "faq"],
        "faq": ["faq"],
        "none": None,
    }
    for tenant in ("a", "b"):
        with cache_scope(tenant_id=tenant):
            for name, tags in rows.items():
                cache.update(chat_prompt(f"question {name}"), llm, _gen(name), tags=tags)
    listed = {e.text: e.tags for e in cache.entries(tenant_id="a")}
    assert listed["question both"] == ("faq", "pricing")
    cache.clear(tenant_id="a", tags=["pricing"])
    left = {(e.text, tuple(e.tags)) for e in cache.entries(tenant_id="a")}
    assert left == {("question faq", ("faq",)), ("question none", ())}
    assert len(cache.entries(tenant_id="b")) == 4  # another tenant keeps its tagged entries
    cache.clear(tags=["faq", "pricing"])  # any of the tags, every tenant
    assert {e.text for e in cache.entries()} == {"question none"}
    with cache_scope(tenant_id="b"):
        assert cache.lookup(chat_prompt("question none"), llm) == _gen("none")
        assert cache.lookup(chat_prompt("question pricing"), llm) is None
    assert [e.text for e in cache.entries(tags=["faq"])] == []


def entries_lists_scope_with_hit_counts(make: Make) -> None:
    cache, llm = make(), llm_string()
    with cache_scope(tenant_id="acme", user_id="u1"):
        cache.update(chat_prompt("What is the capital of France?"), llm, GEN, tags=["geo"])
        time.sleep(0.01)
        cache.update(chat_prompt("How do I reset my password?"), llm, GEN)
        for _ in range(2):
            assert cache.lookup(chat_prompt("what's the capital of France"), llm) == GEN
        result, _ = cache.lookup_detailed(chat_prompt("What is France's capital?"), llm)
        assert result.outcome == "semantic_hit"
    with cache_scope(tenant_id="acme", user_id="u2"):
        cache.update(chat_prompt("Where is my order?"), llm, GEN)
    with cache_scope(tenant_id="globex"):
        cache.update(chat_prompt("Where is my order?"), llm, GEN)

    mine = cache.entries(tenant_id="acme", user_id="u1")
    assert [e.text for e in mine] == [
        "How do I reset my password?",
        "What is the capital of France?",
    ]
    france = mine[1]
    assert france.hits == 3 and france.tags == ("geo",) and mine[0].hits == 0
    assert france.last_used is not None and france.last_used >= france.created_at
    assert france.expires_at is None and france.ttl is None
    assert len(cache.entries(tenant_id="acme")) == 3
    assert len(cache.entries()) == 4
    assert len(cache.entries(limit=2)) == 2
    assert [e.text for e in cache.entries(tenant_id="globex")] == ["Where is my order?"]
    with pytest.raises(TokenOptConfigError):
        cache.entries(user_id="u1")
    with pytest.raises(TokenOptConfigError):
        cache.entries(limit=0)


def delete_by_id(make: Make) -> None:
    cache, llm = make(), llm_string()
    prompt = chat_prompt("What is the capital of France?")
    cache.update(prompt, llm, GEN)
    result, _ = cache.lookup_detailed(prompt, llm)
    assert result.hit is not None
    entry_id = result.hit.entry_id
    assert [e.entry_id for e in cache.entries()] == [entry_id]
    assert cache.delete(entry_id) is True
    assert cache.delete(entry_id) is False
    assert cache.lookup(prompt, llm) is None
    assert cache.lookup(chat_prompt("What is France's capital?"), llm) is None
    assert cache.entries() == []


def invalid_lifetime_and_tags_are_refused(make: Make) -> None:
    cache, llm = make(semantic=False), llm_string()
    bad: list[dict[str, Any]] = [
        {"ttl": -1},
        {"ttl": float("inf")},
        {"tags": "pricing"},
        {"tags": [""]},
    ]
    for kwargs in bad:
        with pytest.raises(TokenOptConfigError):
            cache.update(chat_prompt("q"), llm, GEN, **kwargs)
    with pytest.raises(TokenOptConfigError):
        cache.clear(tags=[])
    with pytest.raises(TokenOptConfigError):
        cache.clear(tags="pricing")
    with pytest.raises(TokenOptConfigError), cache_entry_options(ttl=0):
        pass
    with pytest.raises(TokenOptConfigError):
        make(refresh_on_hit="yes")
    # bad run metadata is ignored (a LangChain call must not break), good keys still apply
    chain = RunnableLambda(lambda q: cache.update(chat_prompt(q), llm, GEN))
    chain.invoke("metadata question", config={"metadata": {"cache_ttl": "soon"}})
    assert [e.ttl for e in cache.entries()] == [None]


async def async_paths(make: Make) -> None:
    cache, llm = make(refresh_on_hit=True), llm_string()
    prompt = chat_prompt("What is the capital of France?")
    await cache.aupdate(prompt, llm, GEN, ttl=30, tags=["geo"])
    await cache.aupdate(chat_prompt("Where is my order?"), llm, GEN, tags=["orders"])
    assert await cache.alookup(prompt, llm) == GEN
    listed = {e.text: e for e in await cache.aentries()}
    assert listed["What is the capital of France?"].hits == 1
    assert listed["What is the capital of France?"].tags == ("geo",)
    await cache.aclear(tags=["geo"])
    assert [e.text for e in await cache.aentries()] == ["Where is my order?"]
    entry_id = (await cache.aentries())[0].entry_id
    assert await cache.adelete(entry_id) is True
    assert await cache.aentries() == []


CHECKS: list[Callable[[Make], None]] = [
    per_entry_ttl,
    ttl_and_tags_from_context_and_metadata,
    refresh_on_hit,
    tags_and_clear_by_tag,
    entries_lists_scope_with_hit_counts,
    delete_by_id,
    invalid_lifetime_and_tags_are_refused,
]
