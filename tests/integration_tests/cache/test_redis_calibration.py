"""Online calibration state kept in a real Redis: it survives a server and process restart."""

from __future__ import annotations

from langchain_core.outputs import Generation

from langchain_tokenopt.cache import OnlineCalibration, RedisBackend, SemanticCache, cache_scope
from langchain_tokenopt.embeddings import OnnxEmbeddings
from tests.redis_server import RedisServer

from ...unit_tests.cache.helpers import chat_prompt, llm_string

LLM = llm_string()
ORIGINAL = "How do I reset the password of my account?"
PARAPHRASE = "How can I reset the password for my account?"
ANSWER = [Generation(text="Open Settings, then Reset.")]
#: Above the pair's similarity (~0.98), so the pair is in the uncertain band.
BASE = 0.995
#: Wilson (95 %, one-sided) allows 0.1 after 25 agreeing observations.
CONFIG = OnlineCalibration(max_error_rate=0.1, exploration=0.0, seed=0)


def make(url: str, embeddings: OnnxEmbeddings) -> SemanticCache:
    backend = RedisBackend(url=url, prefix="calib:")
    return SemanticCache(
        backend=backend, embeddings=embeddings, similarity_threshold=BASE, calibration=CONFIG
    )


def train(cache: SemanticCache, n: int, desk: str) -> None:
    for i in range(n):
        system = f"{desk} {i}"  # a scope of its own per observation
        cache.update(chat_prompt(ORIGINAL, system=system), LLM, ANSWER)
        assert cache.lookup(chat_prompt(PARAPHRASE, system=system), LLM) is None
        cache.update(chat_prompt(PARAPHRASE, system=system), LLM, ANSWER)


def probe(cache: SemanticCache, system: str) -> str:
    cache.update(chat_prompt(ORIGINAL, system=system), LLM, ANSWER)
    return cache.lookup_detailed(chat_prompt(PARAPHRASE, system=system), LLM)[0].outcome


def test_state_survives_a_redis_restart_and_resets_per_tenant(
    persistent_redis: RedisServer, embeddings: OnnxEmbeddings
) -> None:
    cache = make(persistent_redis.url, embeddings)
    with cache_scope(tenant_id="a"):
        train(cache, 25, "a")
        assert probe(cache, "before restart") == "semantic_hit"
    with cache_scope(tenant_id="b"):
        train(cache, 10, "b")
        assert probe(cache, "before restart") == "miss"  # 10 agreeing answers are not enough
    cache.close()
    persistent_redis.restart(kill=True)  # AOF brings the hash back

    cache = make(persistent_redis.url, embeddings)  # a new process would start like this
    try:
        # tenant ids are stored hashed: the states come back under their digests
        assert sorted(s.observations for s in cache.stats().calibration.values()) == [10, 25]
        with cache_scope(tenant_id="a"):
            assert probe(cache, "after restart") == "semantic_hit"
        with cache_scope(tenant_id="b"):
            assert probe(cache, "after restart") == "miss"
        cache.reset_calibration(tenant_id="a")
        with cache_scope(tenant_id="a"):
            assert probe(cache, "after reset") == "miss"
    finally:
        cache.close()
    cache = make(persistent_redis.url, embeddings)
    try:
        assert [s.observations for s in cache.stats().calibration.values()] == [10]
    finally:
        cache.close()


def test_learnt_word_pairs_survive_a_redis_restart(
    persistent_redis: RedisServer, embeddings: OnnxEmbeddings
) -> None:
    """A word pair learnt from two confirmations is kept with the tenant's state in Redis."""
    pairs = [
        ("Is shipping free for members?", "Is delivery free for members?"),
        ("How long does shipping take to Canada?", "How long does delivery take to Canada?"),
    ]
    probe_pair = ("How much does shipping cost?", "How much does delivery cost?")

    def words_cache() -> SemanticCache:
        backend = RedisBackend(url=persistent_redis.url, prefix="words:")
        return SemanticCache(
            backend=backend,
            embeddings=embeddings,
            similarity_threshold=0.7,  # below the pairs: the verifier alone decides
            calibration=CONFIG,
        )

    def ask(cache: SemanticCache, pair: tuple[str, str], desk: str) -> str:
        cached, asked = pair
        answer = [Generation(text=f"Answer to: {cached}")]
        cache.update(chat_prompt(cached, system=desk), LLM, answer)
        outcome = cache.lookup_detailed(chat_prompt(asked, system=desk), LLM)[0].outcome
        if outcome != "semantic_hit":
            cache.update(chat_prompt(asked, system=desk), LLM, answer)
        return outcome

    cache = words_cache()
    with cache_scope(tenant_id="a"):
        assert [ask(cache, pair, f"w{i}") for i, pair in enumerate(pairs)] == ["rejected"] * 2
    cache.close()
    persistent_redis.restart(kill=True)
    cache = words_cache()
    try:
        with cache_scope(tenant_id="a"):
            assert ask(cache, probe_pair, "after restart") == "semantic_hit"
        with cache_scope(tenant_id="b"):
            assert ask(cache, probe_pair, "other tenant") == "rejected"
    finally:
        cache.close()
