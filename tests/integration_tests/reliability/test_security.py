"""Security checks: no unpickling, namespaced Redis keys, loopback dashboard with a token,
no prompt text in logs at INFO or above."""

from __future__ import annotations

import ast
import inspect
import logging
import uuid
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import HumanMessage

import langchain_tokenopt
from langchain_tokenopt.cache import LocalBackend, RedisBackend, SemanticCache, cache_scope
from langchain_tokenopt.graph import build_optimized_agent
from langchain_tokenopt.monitoring import (
    MemoryMetricsStore,
    RedisMetricsStore,
    RequestRecord,
    TokenOptCallbackHandler,
)
from langchain_tokenopt.monitoring.dashboard import DEFAULT_HOST, create_app, serve
from tests.redis_server import RedisServer

from ...unit_tests.cache.helpers import chat_prompt, llm_string
from .conftest import answer

PACKAGE = Path(langchain_tokenopt.__file__).parent
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
SECRET = "sk-live-TOPSECRET-4f9a1c"


def _unsafe_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            UNSAFE_MODULES
        ):
            found.append(str(node.module))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            kwargs = {k.arg: k.value for k in node.keywords}
            name = node.func.attr
            if name == "load" and ast.unparse(node.func.value) in ("np", "numpy"):
                flag = kwargs.get("allow_pickle")
                if not (isinstance(flag, ast.Constant) and flag.value is False):
                    found.append("np.load without allow_pickle=False")
            if name == "load" and ast.unparse(node.func.value) == "torch":
                flag = kwargs.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    found.append("torch.load without weights_only=True")
            if name == "load" and ast.unparse(node.func.value) == "yaml":
                found.append("yaml.load")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("eval", "exec")
        ):
            found.append(node.func.id)
    return found


def test_nothing_in_the_package_unpickles() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 30
    problems = {
        str(p.relative_to(PACKAGE)): bad
        for p in sources
        if (bad := _unsafe_calls(ast.parse(p.read_text(encoding="utf-8"))))
    }
    assert problems == {}
    # the detector itself works
    assert _unsafe_calls(ast.parse("import pickle\npickle.loads(b'')")) == ["pickle"]
    assert _unsafe_calls(ast.parse("np.load('x.npy')")) == ["np.load without allow_pickle=False"]


def test_redis_keys_live_under_the_configured_prefixes(persistent_redis: RedisServer) -> None:
    url = persistent_redis.url
    cache = SemanticCache(backend=RedisBackend(url=url, prefix="myapp:llm:"), semantic=False)
    store = RedisMetricsStore(url=url, key_prefix="myapp:metrics:", flush_interval=0.05)
    try:
        for tenant in ("acme", "evil} | @tenant:{*", "a b"):
            with cache_scope(tenant_id=tenant, user_id="u*1"):
                cache.update(chat_prompt(f"hello from {tenant}"), llm_string(), answer("x"))
        store.add(RequestRecord(request_id="r1", timestamp=1.0))
        assert store.flush(10.0)
        keys = [k.decode() for k in redis.Redis.from_url(url).scan_iter(count=1000)]
    finally:
        store.close()
        cache.close()
    assert len(keys) >= 4
    outside = [k for k in keys if not k.startswith(("myapp:llm:", "myapp:metrics:"))]
    assert outside == []
    # no tenant string ever reaches a key name (ids are digests)
    assert not any("acme" in k or "evil" in k for k in keys)


def test_dashboard_binds_loopback_and_guards_data_routes() -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    store = MemoryMetricsStore()
    try:
        client = TestClient(create_app(store, token="s3cret-token"))
        for route in ("/api/summary", "/api/timeseries", "/api/top", "/metrics"):
            assert client.get(route).status_code == 401, route
            bad = {"Authorization": "Bearer wrong"}
            assert client.get(route, headers=bad).status_code == 401, route
            good = {"Authorization": "Bearer s3cret-token"}
            assert client.get(route, headers=good).status_code == 200, route
        assert client.get("/healthz").status_code == 200
    finally:
        store.close()


def test_no_prompt_text_in_logs_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, persistent_redis: RedisServer
) -> None:
    prompt = f"My API key is {SECRET}, please rotate it"
    caplog.set_level(logging.DEBUG)
    local = SemanticCache(backend=LocalBackend(path=tmp_path / "c.sqlite3"), semantic=False)
    remote = SemanticCache(
        backend=RedisBackend(url=persistent_redis.url, prefix=f"s{uuid.uuid4().hex[:6]}:"),
        semantic=False,
    )
    llm = llm_string()
    try:
        with cache_scope(tenant_id=SECRET):
            for cache in (local, remote):
                cache.update(chat_prompt(prompt), llm, answer(SECRET))
                cache.lookup(chat_prompt(prompt), llm)
                cache.update(chat_prompt(prompt), llm, "not generations")  # type: ignore[arg-type]
            persistent_redis.kill()  # outage warnings must not quote the prompt either
            remote.lookup(chat_prompt(prompt), llm)
            remote.update(chat_prompt(prompt + " again"), llm, answer("x"))
        store = MemoryMetricsStore()
        graph = build_optimized_agent(
            GenericFakeChatModel(messages=iter([f"noted {SECRET}"] * 4)),
            [],
            cache=local,
            monitor=TokenOptCallbackHandler(store=store),
            tool_selector=False,
            system_prompt=f"Internal secret: {SECRET}",
        ).compile()
        config = {"metadata": {"tenant_id": "acme"}}
        graph.invoke({"messages": [HumanMessage(prompt)]}, config=config)
        graph.invoke({"messages": [HumanMessage(prompt)]}, config=config)  # cache hit
        store.close()
    finally:
        local.close()
        remote.close()
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.levelno >= logging.WARNING for r in loud)  # the outage was logged
    leaks = [r.getMessage() for r in loud if SECRET in r.getMessage() or "rotate" in r.getMessage()]
    assert leaks == []
