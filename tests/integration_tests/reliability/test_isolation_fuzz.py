"""Isolation fuzz: the SAME question stored under 10,000 random scopes, asked back in each.

A probe is (tenant, user, model, system prompt, conversation context). Every probe stores
the same question with an answer naming the probe, then asks it again: the answer must be
the probe's own (or that of a probe with the identical scope tuple). Tenant and user ids
include RediSearch query syntax and spaces. Most probes use the exact fast path; a
semantic slice checks the scope pre-filter of the vector search too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache as memoize

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import SemanticCache, cache_scope

from ...unit_tests.cache.helpers import ServingModel, chat_prompt, conversation, llm_string
from .conftest import MakeCache

QUESTION = "What is the refund policy for my last order?"
HOSTILE = ["{}", "|", "@", "*", "-", ":", '"', "\\", " "]
SYSTEMS = [None, "You are a support bot.", "You are a support bot for EU customers.", "Be terse."]
CONTEXTS: list[tuple[str, str] | None] = [
    None,
    ("I bought shoes", "Noted."),
    ("I bought a TV", "Noted."),
    ("I bought shoes", "Which size?"),
]
MODELS = ["fake-1", "fake-2", "gpt-4o-mini", "gpt-4o", "claude-x"]

Probe = tuple[str | None, str | None, str, str | None, tuple[str, str] | None]


def tenant_ids(rng: random.Random, n: int) -> list[str | None]:
    ids: list[str | None] = [None, "acme", "acme ", " acme", "ACME", "acme*", "*", "acme|beta"]
    ids += ["{acme}", "acme} | @tenant:{*", '"acme"', "ac\\me", "a-c-m-e", "@scope:{x}", "a:b"]
    while len(ids) < n:
        k = rng.randint(1, 8)
        ids.append("".join(rng.choice(HOSTILE + list("abcxyz01")) for _ in range(k)))
    return ids


def make_probes(n: int, seed: int) -> list[Probe]:
    rng = random.Random(seed)
    tenants = tenant_ids(rng, 120)
    users: list[str | None] = [None, "u1", "u2", "u 1", "u|1", "*", "{u1}", "u1\\"]
    return [
        (
            rng.choice(tenants),
            rng.choice(users),
            rng.choice(MODELS),
            rng.choice(SYSTEMS),
            rng.choice(CONTEXTS),
        )
        for _ in range(n)
    ]


@memoize
def _llm(model: str) -> str:
    return llm_string(ServingModel(responses=["x"], model_name=model))


@memoize
def _prompt(system: str | None, context: tuple[str, str] | None) -> str:
    history = conversation(*context) if context else None
    return chat_prompt(QUESTION, system=system, history=history)


def run_fuzz(cache: SemanticCache, probes: list[Probe]) -> tuple[int, int]:
    """Store then ask every probe; return (cross-scope answers, own answers served)."""
    owner: dict[Probe, int] = {}
    for i, probe in enumerate(probes):
        tenant, user, model, system, context = probe
        with cache_scope(tenant_id=tenant, user_id=user):
            cache.update(_prompt(system, context), _llm(model), [Generation(text=str(i))])
        owner[probe] = i  # the last writer of an identical scope owns the entry
    cross = own = 0
    for probe in probes:
        tenant, user, model, system, context = probe
        with cache_scope(tenant_id=tenant, user_id=user):
            got = cache.lookup(_prompt(system, context), _llm(model))
        if got is None:
            continue
        if got == [Generation(text=str(owner[probe]))]:
            own += 1
        else:
            cross += 1
    return cross, own


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_10000_probes_exact_path_zero_cross_scope(
    backend: str, make_local_cache: MakeCache, make_redis_cache: MakeCache
) -> None:
    make = make_local_cache if backend == "local" else make_redis_cache
    cache = make(max_embed_chars=4000)
    probes = make_probes(10_000, seed=11)
    cross, own = run_fuzz(cache, probes)
    assert cross == 0
    assert own == len(probes)  # and nothing was silently dropped
    assert cache.stats().errors == 0


class _SameVector(Embeddings):
    """Every text maps to one vector: similarity is 1.0, only the scope can separate."""

    dimension = 384

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0] + [0.0] * 383


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_semantic_path_never_crosses_scopes(
    backend: str, make_local_cache: MakeCache, make_redis_cache: MakeCache
) -> None:
    """Worst case for the vector search: every entry is a perfect neighbour of every query."""
    make: Callable[..., SemanticCache] = (
        make_local_cache if backend == "local" else make_redis_cache
    )
    cache = make(semantic=True, embeddings=_SameVector(), verify_hits=False)
    probes = make_probes(600, seed=7)
    rephrased = "Tell me the refund policy on my previous order"
    owner: dict[Probe, int] = {}
    for i, probe in enumerate(probes):
        tenant, user, model, system, context = probe
        with cache_scope(tenant_id=tenant, user_id=user):
            cache.update(_prompt(system, context), _llm(model), [Generation(text=str(i))])
        owner[probe] = i
    cross = served = 0
    for probe in set(probes):
        tenant, user, model, system, context = probe
        history = conversation(*context) if context else None
        with cache_scope(tenant_id=tenant, user_id=user):
            result, got = cache.lookup_detailed(
                chat_prompt(rephrased, system=system, history=history), _llm(model)
            )
        if got is not None:
            served += 1
            cross += got != [Generation(text=str(owner[probe]))]
            assert result.outcome == "semantic_hit"
    assert cross == 0
    assert served == len(set(probes))
    # a scope nobody wrote to gets nothing, even with a perfect neighbour elsewhere
    with cache_scope(tenant_id="nobody-wrote-here"):
        assert cache.lookup(chat_prompt(rephrased), _llm("fake-1")) is None
