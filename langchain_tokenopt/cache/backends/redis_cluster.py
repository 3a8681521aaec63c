"""Redis Cluster backend: one Redis 8 vector set per scope, every key of a scope on one slot.

Why vector sets and not RediSearch: the search module in the packaged server (RediSearch
2.10, open source, no coordinator) treats an index name as a key in cluster mode, so
``FT.SEARCH`` is redirected (``MOVED``) to the node owning the name's slot and searches
only that node's documents; there is no search across shards. A RediSearch index per scope
would work but costs about 2 MiB per scope once it holds a vector (its first vector block)
and a scope may be a single conversation; a vector set per scope costs about 5 KiB with its
first entry (``python -m bench cache cluster``). Layout, ``S`` the scope digest, ``I``
the entry id::

    <prefix>{S}:e:I   entry hash (no vector)        <prefix>{S}:v    vector set of scope S
    <prefix>{S}:m:I   side hash (hits, new expiry)  <prefix>id:{I}   S (lookups by id alone)
    <prefix>lru       LRU sorted set of "S/I"       <prefix>calibration

The ``{S}`` hash tag keeps a scope's entries and its vector set on one slot, so a lookup is
one script on one master: ``VSIM`` for the nearest neighbours, then the first whose hash
still exists (an expired entry's element is removed as it is met). The scope is the key, so
the search is pre-filtered by construction. ``get``/``touch``/``delete`` know only the id:
they read the scope from ``<prefix>id:{I}`` (memoized in process: an id's scope never
changes, the id being a digest of it). Listing and clearing scan every master (admin calls).

Failing open: any cluster or wire error (a master down, a slot not served, ``CLUSTERDOWN``)
becomes a miss or a dropped update. Outages are tracked per master (one warning each, and
only that master's keys are skipped for ``retry_interval``); a cluster that cannot be
reached at all is :class:`RedisBackend`'s single outage.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import RedisClusterBackend, SemanticCache

        backend = RedisClusterBackend(url="redis://10.0.0.1:7000")
        cache = SemanticCache(backend=backend)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from langchain_tokenopt.cache.backends.redis import (
    _SCAN_BATCH,
    RedisBackend,
    _glob_escape,
    _is_backend_error,
    _is_noscript,
    _outage_cause,
    _redis,
    _UnusableServerError,
)
from langchain_tokenopt.cache.backends.redis_cluster_schema import (
    ADMIN_FIELDS,
    SCRIPT_SHAS,
    SCRIPTS,
    check_hex,
    matches,
)
from langchain_tokenopt.cache.backends.redis_schema import (
    as_str,
    entry_mapping,
    parse_entry,
)
from langchain_tokenopt.cache.records import CacheEntry, Candidate
from langchain_tokenopt.errors import BackendUnavailableError, CacheError

__all__ = ["RedisClusterBackend"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


_NEIGHBOURS = 4  # neighbours a lookup asks for at once (more only when all have expired)
_MEMO = 65_536  # entry ids whose scope is memoized in process


class RedisClusterBackend(RedisBackend):
    """The Redis backend on a Redis Cluster (Redis 8 with vector sets on every master).

    Same behaviour as :class:`RedisBackend` (scope pre-filter, per-entry TTL and
    refresh-on-hit, tags, ``clear(tags=)``, ``entries()``, LRU bound, sync and async,
    fail-open with one log line per outage); a scope's keys share the hash tag ``{scope}``
    and its vectors live in one vector set (see the module docstring for why). Vectors are
    stored unquantized (``NOQUANT``), so similarities are those of the single-node index.

    Outages are tracked per master: a master that goes down makes only its scopes miss
    (and lookups by id whose ``id:{I}`` key it holds, unless this process has met the id),
    with one warning for that master; the others keep serving (run the servers with
    ``cluster-require-full-coverage no``). While the master holding the LRU order is down,
    hits are served and entries stored, but not LRU-ordered. A cluster that cannot be
    reached at all, or lacks vector sets, fails open as a whole, as on one node. Known
    limit: redis-py's asyncio cluster client cannot start while its default node is down,
    so a process whose first async call falls in such an outage misses until it is over.

    Args:
        url: ``redis://`` URL of any node of the cluster (the others are discovered).
        prefix: Key prefix.
        dim: Vector dimension (384 for the packaged MiniLM).
        max_entries: Bound on entries over the whole cluster, least recently used evicted
            (``None``: no bound).
        socket_timeout: Seconds before a Redis call counts as failed (fail open).
        connect_timeout: Seconds to open a new connection.
        retry_interval: Seconds to skip Redis after a failure before trying again.
        hnsw_m: HNSW ``M`` of each vector set.
        hnsw_ef_construction: HNSW ``EF`` used when adding vectors.
        max_concurrency: Async Redis calls in flight at once (also connections per node).

    Raises:
        TokenOptConfigError: an argument is invalid.
        MissingDependencyError: ``redis`` is not installed (extra ``redis``).

    Example:
        .. code-block:: python

            backend = RedisClusterBackend(url="redis://10.0.0.1:7000", prefix="myapp:llm:")
    """

    # ------------------------------------------------------------------ clients and layout

    def _new_client(self) -> Any:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(self.url, **self._options)

    def _new_async_client(self) -> Any:
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        # seeded with every node the sync client knows: the URL's node may be the one down
        known = self._sync_client.get_nodes() if self._sync_client is not None else []
        seeds = [ClusterNode(node.host, node.port) for node in known]
        return RedisCluster.from_url(
            self.url,
            startup_nodes=seeds or None,
            max_connections=self.max_concurrency,
            **self._options,
        )

    def close(self) -> None:
        """Close the connections to every node."""
        super().close()
        self._scopes.clear()

    @property
    def _scopes(self) -> dict[str, str]:
        """Scope of each entry id met in this process (an id's scope never changes)."""
        memo: dict[str, str] | None = self.__dict__.get("_scope_memo")
        if memo is None:
            memo = self.__dict__.setdefault("_scope_memo", {})
        return memo

    @property
    def _masters_down(self) -> dict[str, tuple[float, float]]:
        """``{master: (down since, retry at)}`` of the masters failing now."""
        down: dict[str, tuple[float, float]] | None = self.__dict__.get("_down_masters")
        if down is None:
            down = self.__dict__.setdefault("_down_masters", {})
        return down

    def _remember(self, entry_id: str, scope: str) -> None:
        memo = self._scopes
        if entry_id in memo:
            return
        with self._state:  # threads share the memo: evict the oldest under the lock
            if len(memo) >= _MEMO:
                memo.pop(next(iter(memo)), None)
            memo[entry_id] = scope

    def _entry_key(self, scope: str, entry_id: str) -> str:
        return f"{self.prefix}{{{scope}}}:e:{entry_id}"

    def _side_key(self, scope: str, entry_id: str) -> str:
        return f"{self.prefix}{{{scope}}}:m:{entry_id}"

    def _set_key(self, scope: str) -> str:
        return f"{self.prefix}{{{check_hex('scope', scope)}}}:v"

    def _pointer(self, entry_id: str) -> str:
        return f"{self.prefix}id:{{{entry_id}}}"

    def _keys(self, scope: str, entry_id: str) -> tuple[str, str, str]:
        """Entry hash, side hash and vector set of one entry (one slot)."""
        return (
            self._entry_key(scope, entry_id),
            self._side_key(scope, entry_id),
            self._set_key(scope),
        )

    # ------------------------------------------------------------------ capability probe

    def _probe(self) -> None:
        """Check that the cluster has vector sets (Redis 8)."""
        info = self._client.execute_command("COMMAND", "INFO", "VSIM")
        known = info.get("VSIM", info.get(b"VSIM")) if isinstance(info, dict) else info
        if not known or (isinstance(known, list | tuple) and not any(known)):
            msg = "RedisClusterBackend needs Redis 8 (vector sets): VSIM unknown"
            raise _UnusableServerError(msg)

    def _ensure_index(self) -> None:
        self._probe()  # no index: a vector set per scope is made by its first VADD
        for script in SCRIPTS.values():
            try:  # on every master now, so first calls skip a NOSCRIPT round trip
                self._client.script_load(script)
            except _redis().RedisError:
                break  # a master down: calls load the scripts themselves (EVAL)
        self._index_ready = True

    def _script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return self._client.evalsha(SCRIPT_SHAS[name], len(keys), *keys, *args)
        except Exception as exc:
            if not _is_noscript(exc):
                raise
            return self._client.eval(SCRIPTS[name], len(keys), *keys, *args)

    async def _ascript(self, client: Any, name: str, keys: Sequence[str], args: Any) -> Any:
        try:
            return await client.evalsha(SCRIPT_SHAS[name], len(keys), *keys, *args)
        except Exception as exc:
            if not _is_noscript(exc):
                raise
            return await client.eval(SCRIPTS[name], len(keys), *keys, *args)

    # ------------------------------------------------------------------ per-master outages

    def _master_failed(self, master: str, exc: BaseException) -> BackendUnavailableError:
        """Mark one master down: its keys miss; one warning per master outage."""
        _, cause = _outage_cause(exc)
        with self._state:
            now = time.monotonic()
            since = self._masters_down.get(master, (now, now))[0]
            if master not in self._masters_down:
                logger.warning(
                    "Redis cache master %s unavailable: %s; its scopes miss and their updates"
                    " are dropped, retrying every %g s",
                    master,
                    cause,
                    self.retry_interval,
                )
            self._masters_down[master] = (since, now + self.retry_interval)
        return BackendUnavailableError(f"Redis master {master} is unavailable: {cause}")

    def _master_ok(self, master: str) -> None:
        if master not in self._masters_down:
            return
        with self._state:
            state = self._masters_down.pop(master, None)
            if state is not None:
                logger.warning(
                    "Redis cache master %s is back after %.1f s",
                    master,
                    time.monotonic() - state[0],
                )

    def _check_master(self, master: str) -> None:
        state = self._masters_down.get(master)
        if state is not None and time.monotonic() < state[1]:
            msg = f"Redis master {master} is unavailable (retrying soon)"
            raise BackendUnavailableError(msg)

    @contextlib.contextmanager
    def _master_outages(self, master: str) -> Iterator[None]:
        """Fail fast while ``master`` is down; a Redis failure inside marks only that master."""
        self._check_master(master)
        try:
            yield
        except Exception as exc:
            if _is_backend_error(exc):
                raise self._master_failed(master, exc) from exc
            raise
        self._master_ok(master)

    def _at(self, key: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the master holding ``key``; a failure there marks only that master.

        Failures before a master is known (no cluster, no vector sets) are the whole
        backend's, as on one node.
        """
        master = self._run(lambda: str(self._client.get_node_from_key(key).name))
        with self._master_outages(master):
            return fn()

    async def _aat(self, key: str, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Async :meth:`_at` (under the same concurrency gate as every async call)."""
        self._check_up()
        client, gate, _ = self._async_client()
        async with gate:

            async def locate(c: Any) -> str:
                if not c.get_nodes():
                    await c.initialize()
                return str(c.get_node_from_key(key).name)

            master = await self._arun_now(client, locate)
            with self._master_outages(master):
                return await fn(client)

    # ------------------------------------------------------------------ shared pure parts

    def _put_args(self, entry: CacheEntry) -> tuple[list[str], list[Any]]:
        check_hex("entry_id", entry.entry_id)
        mapping = entry_mapping(entry)
        blob = mapping.pop("vector", b"")
        ms = "" if entry.expires_at is None else str(int(entry.expires_at * 1000))
        pairs = [x for field, value in mapping.items() for x in (field, value)]
        args = [blob, entry.entry_id, ms, self.hnsw_m, self.hnsw_ef_construction, *pairs]
        return list(self._keys(entry.scope, entry.entry_id)), args

    @staticmethod
    def _pointer_expiry(entry: CacheEntry) -> int | None:
        """The id pointer's expiry in ms (the entry's), or ``None``."""
        return None if entry.expires_at is None else int(entry.expires_at * 1000)

    def _drop(self, pipe: Any, scope: str, entry_id: str) -> None:
        """Queue the removal of every key and member of one entry."""
        entry_key, side_key, set_key = self._keys(scope, entry_id)
        pipe.delete(entry_key)
        pipe.delete(side_key)
        pipe.execute_command("VREM", set_key, entry_id)
        pipe.delete(self._pointer(entry_id))
        pipe.zrem(self.lru_key, f"{scope}/{entry_id}")

    def _candidates_of(self, reply: Any) -> list[Candidate]:
        out = []
        for item in reply or ():
            try:
                fields = dict(zip(item[::2], item[1::2], strict=True))
                score = float(as_str(fields.pop(b"score", fields.pop("score", None))))
                entry = parse_entry(fields, now=None)
            except (KeyError, TypeError, IndexError, ValueError) as exc:
                msg = f"unexpected search reply from Redis: {type(exc).__name__}: {exc}"
                raise CacheError(msg) from exc
            if entry is None:
                continue
            self._remember(entry.entry_id, entry.scope)
            # VSIM scores are (1 + cosine) / 2 in [0, 1]; the cache compares cosines
            out.append(Candidate(entry=entry, similarity=2.0 * score - 1.0))
        return out

    def _search_args(self, scope: str, vector: np.ndarray, k: int) -> tuple[list[str], list[Any]]:
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        prefix = f"{self.prefix}{{{check_hex('scope', scope)}}}:e:"
        return [self._set_key(scope)], [blob, prefix, max(_NEIGHBOURS, k), k]

    def _touch_args(self, entry_id: str, now: float, expires_at: float | None) -> tuple[Any, ...]:
        ms, seconds = ("", "") if expires_at is None else (int(expires_at * 1000), repr(expires_at))
        return (ms, seconds)

    def _live(self, entry: CacheEntry | None, now: float) -> CacheEntry | None:
        if entry is None or not self._expired(entry, now):
            return entry
        side = self._side_key(entry.scope, entry.entry_id)
        moved = self._at(side, lambda: self._client.hget(side, "expires_at"))
        return self._refreshed(entry, moved, now)

    async def _alive(self, entry: CacheEntry | None, now: float) -> CacheEntry | None:
        if entry is None or not self._expired(entry, now):
            return entry
        side = self._side_key(entry.scope, entry.entry_id)
        moved = await self._aat(side, lambda c: c.hget(side, "expires_at"))
        return self._refreshed(entry, moved, now)

    def _scope_of(self, entry_id: str) -> str | None:
        """The scope of an entry id: memoized, else read from its pointer key."""
        scope = self._scopes.get(entry_id)
        if scope is None:
            pointer = self._pointer(entry_id)
            raw = self._at(pointer, lambda: self._client.get(pointer))
            if raw is None:
                return None
            scope = as_str(raw)
            self._remember(entry_id, scope)
        return scope

    async def _ascope_of(self, entry_id: str) -> str | None:
        scope = self._scopes.get(entry_id)
        if scope is None:
            pointer = self._pointer(entry_id)
            raw = await self._aat(pointer, lambda c: c.get(pointer))
            if raw is None:
                return None
            scope = as_str(raw)
            self._remember(entry_id, scope)
        return scope

    def _evicted(self, popped: Sequence[Any]) -> list[tuple[str, str]]:
        pairs = []
        for member, _ in popped:
            scope, _, entry_id = as_str(member).partition("/")
            pairs.append((scope, entry_id))
        return pairs

    # ------------------------------------------------------------------ sync API

    def get(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Return the live entry with this id, or ``None``."""
        scope = self._scope_of(entry_id)
        if scope is None:
            return None
        key = self._entry_key(scope, entry_id)
        return self._live(self._entry(self._at(key, lambda: self._client.hgetall(key))), now)

    def search_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Up to ``k`` live entries of ``scope``, nearest first, from one script call."""
        keys, args = self._search_args(scope, vector, k)
        reply = self._at(keys[0], lambda: self._script("search", keys, args))
        return self._live_shortlist(self._candidates_of(reply), now, k, min_similarity)

    def put(self, entry: CacheEntry) -> None:
        """Insert or replace an entry; evict LRU entries over ``max_entries``."""
        keys, args = self._put_args(entry)
        self._at(keys[0], lambda: self._script("put", keys, args))
        self._remember(entry.entry_id, entry.scope)
        pointer, expiry = self._pointer(entry.entry_id), self._pointer_expiry(entry)
        self._at(pointer, lambda: self._client.set(pointer, entry.scope, pxat=expiry))

        def order() -> None:
            member = f"{entry.scope}/{entry.entry_id}"
            pipe = self._client.pipeline()
            pipe.zadd(self.lru_key, {member: entry.created_at})
            pipe.zcard(self.lru_key)
            excess = self._excess(pipe.execute())
            if excess > 0:
                evicted = self._evicted(self._client.zpopmin(self.lru_key, excess))
                pipe = self._client.pipeline()
                for scope, entry_id in evicted:
                    self._drop(pipe, scope, entry_id)
                pipe.execute()

        with contextlib.suppress(BackendUnavailableError):  # stored, not yet LRU-ordered
            self._at(self.lru_key, order)

    def touch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Count a hit, mark the entry used now (LRU) and move a refreshed expiry."""
        scope = self._scope_of(entry_id)
        if scope is None:
            return
        keys, args = self._keys(scope, entry_id), self._touch_args(entry_id, now, expires_at)
        if not self._at(keys[0], lambda: self._script("touch", keys, args)):
            return
        # the hit is counted: LRU order and the pointer's expiry are best effort (their
        # masters' outages are logged), so one master down never turns hits into misses
        member = {f"{scope}/{entry_id}": now}
        with contextlib.suppress(BackendUnavailableError):
            self._at(self.lru_key, lambda: self._client.zadd(self.lru_key, member, xx=True))
        if expires_at is not None:
            pointer, ms = self._pointer(entry_id), int(expires_at * 1000)
            with contextlib.suppress(BackendUnavailableError):
                self._at(pointer, lambda: self._client.pexpireat(pointer, ms, xx=True))

    def delete(self, entry_id: str) -> bool:
        """Delete one entry; return whether it existed."""
        scope = self._scope_of(entry_id)
        if scope is None:
            return False

        def drop() -> bool:
            pipe = self._client.pipeline()
            self._drop(pipe, scope, entry_id)
            return bool(pipe.execute()[0])

        return self._run(drop)

    def _scan_entries(self) -> list[dict[str, str]]:
        """Admin fields of every entry of this prefix, from every master."""
        pattern = _glob_escape(self.prefix) + "{*}:e:*"
        keys = list(self._client.scan_iter(match=pattern, count=_SCAN_BATCH))
        rows: list[dict[str, str]] = []
        for start in range(0, len(keys), _SCAN_BATCH):
            pipe = self._client.pipeline()
            for key in keys[start : start + _SCAN_BATCH]:
                pipe.hmget(key, *ADMIN_FIELDS)
            for values in pipe.execute():
                if values and values[0] is not None:
                    rows.append(
                        {
                            f: "" if v is None else as_str(v)
                            for f, v in zip(ADMIN_FIELDS, values, strict=True)
                        }
                    )
        return rows

    def _drop_all(self) -> int:
        """Delete every key of this prefix but the calibration states."""
        count = 0
        for pattern, counted in (("{*}:e:*", True), ("{*}:*", False), ("id:{*", False)):
            batch: list[Any] = []
            for key in self._client.scan_iter(
                match=_glob_escape(self.prefix) + pattern, count=_SCAN_BATCH
            ):
                count += counted
                batch.append(key)
            for start in range(0, len(batch), _SCAN_BATCH):
                pipe = self._client.pipeline()
                for key in batch[start : start + _SCAN_BATCH]:
                    pipe.delete(key)
                pipe.execute()
        self._client.delete(self.lru_key)
        return count

    def _drop_matching(self, filters: dict[str, str], tags: Sequence[str] | None) -> int:
        """Delete the entries matching the filters (scans every master: an admin call)."""
        rows = self._matching_rows(filters, tags)
        for start in range(0, len(rows), _SCAN_BATCH):
            pipe = self._client.pipeline()
            for row in rows[start : start + _SCAN_BATCH]:
                self._drop(pipe, row["scope"], row["eid"])
            pipe.execute()
        return len(rows)

    def _matching_rows(
        self, filters: dict[str, str], tags: Sequence[str] | None
    ) -> list[dict[str, str]]:
        """The small fields of every matching entry (scans every master: an admin call)."""
        return [r for r in self._scan_entries() if matches(r, filters, tags)]

    def _row_meta(self, row: dict[str, str]) -> str:
        return self._side_key(row["scope"], row["eid"])

    def _row_member(self, row: dict[str, str]) -> str:
        return f"{row['scope']}/{row['eid']}"

    def count(self) -> int:
        """Return the number of entries in the LRU order (expired ones may be counted)."""
        return int(self._run(lambda: self._client.zcard(self.lru_key)))

    def spread(self) -> dict[str, int]:
        """Return how many vector sets (scopes) each master holds, by ``host:port``.

        For operators checking that scopes spread over the masters (``SCAN`` per master).
        """

        def tally() -> dict[str, int]:
            pattern = _glob_escape(self.prefix) + "{*}:v"
            counts: dict[str, int] = {}
            for node in self._client.get_primaries():
                client = self._client.get_redis_connection(node)
                counts[node.name] = sum(1 for _ in client.scan_iter(match=pattern, count=1000))
            return counts

        return self._run(tally)

    # ------------------------------------------------------------------ async API

    async def aget(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Async :meth:`get` on the asyncio cluster client."""
        scope = await self._ascope_of(entry_id)
        if scope is None:
            return None
        key = self._entry_key(scope, entry_id)
        return await self._alive(self._entry(await self._aat(key, lambda c: c.hgetall(key))), now)

    async def asearch_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Async :meth:`search_candidates` on the asyncio cluster client."""
        keys, args = self._search_args(scope, vector, k)
        reply = await self._aat(keys[0], lambda c: self._ascript(c, "search", keys, args))
        return await self._alive_shortlist(self._candidates_of(reply), now, k, min_similarity)

    async def aput(self, entry: CacheEntry) -> None:
        """Async :meth:`put` on the asyncio cluster client."""
        keys, args = self._put_args(entry)
        await self._aat(keys[0], lambda c: self._ascript(c, "put", keys, args))
        self._remember(entry.entry_id, entry.scope)
        pointer, expiry = self._pointer(entry.entry_id), self._pointer_expiry(entry)
        await self._aat(pointer, lambda c: c.set(pointer, entry.scope, pxat=expiry))

        async def order(client: Any) -> None:
            member = f"{entry.scope}/{entry.entry_id}"
            pipe = client.pipeline()
            pipe.zadd(self.lru_key, {member: entry.created_at})
            pipe.zcard(self.lru_key)
            excess = self._excess(await pipe.execute())
            if excess > 0:
                evicted = self._evicted(await client.zpopmin(self.lru_key, excess))
                pipe = client.pipeline()
                for scope, entry_id in evicted:
                    self._drop(pipe, scope, entry_id)
                await pipe.execute()

        with contextlib.suppress(BackendUnavailableError):  # stored, not yet LRU-ordered
            await self._aat(self.lru_key, order)

    async def atouch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Async :meth:`touch`."""
        scope = await self._ascope_of(entry_id)
        if scope is None:
            return
        keys, args = self._keys(scope, entry_id), self._touch_args(entry_id, now, expires_at)
        if not await self._aat(keys[0], lambda c: self._ascript(c, "touch", keys, args)):
            return
        member = {f"{scope}/{entry_id}": now}
        with contextlib.suppress(BackendUnavailableError):  # best effort, as in touch()
            await self._aat(self.lru_key, lambda c: c.zadd(self.lru_key, member, xx=True))
        if expires_at is not None:
            pointer, ms = self._pointer(entry_id), int(expires_at * 1000)
            with contextlib.suppress(BackendUnavailableError):
                await self._aat(pointer, lambda c: c.pexpireat(pointer, ms, xx=True))

    async def adelete(self, entry_id: str) -> bool:
        """Async :meth:`delete`."""
        scope = await self._ascope_of(entry_id)
        if scope is None:
            return False

        async def drop(client: Any) -> bool:
            pipe = client.pipeline()
            self._drop(pipe, scope, entry_id)
            return bool((await pipe.execute())[0])

        return await self._arun(drop)
