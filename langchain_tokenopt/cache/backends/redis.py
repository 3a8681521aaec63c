"""Redis backend: RediSearch HNSW with the scope as a TAG pre-filter inside the KNN query.

One hash per entry at ``<prefix>{<entry_id>}`` (a Redis Cluster hash tag, so an entry's key
always hashes by its id), indexed by RediSearch::

    (@scope:{<scope digest>})=>[KNN 1 @vector $v AS dist]

The filter runs *inside* the vector search, so the nearest neighbour is always taken among
the caller's own entries; scope values are hex digests, so no user string ever reaches the
query language.

Failing open: every call has a socket timeout, and *any* server-side failure (Redis down,
slow or restarting, a server without the query engine, a port that does not speak RESP, a
refused password, a command error) makes the backend raise
:class:`~langchain_tokenopt.errors.BackendUnavailableError`, which the cache turns into a
miss or a dropped update. The backend then logs one warning naming the cause (one per
outage, not one per call), skips Redis for ``retry_interval`` seconds and tries again on
its own. On first connect (and after every outage) it probes the server's capabilities:
the search commands must exist (``FT._LIST``), and a search module listed by
``MODULE LIST`` must be recent enough for vector fields; otherwise the backend stays
unusable with a message such as ``RedisBackend needs Redis 8 with the query engine or
Redis Stack: FT._LIST unknown``.

Example:
    .. code-block:: python

        from langchain_tokenopt.cache import RedisBackend, SemanticCache

        cache = SemanticCache(backend=RedisBackend(url="redis://localhost:6379/0"))
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar, Unpack

import numpy as np

from langchain_tokenopt.cache.backends.base import CacheBackend, EntryFilter, _shortlist
from langchain_tokenopt.cache.backends.redis_schema import (
    LIST_FIELDS,
    TAG_FIELDS,
    TOUCH_SCRIPT,
    as_str,
    entry_mapping,
    filter_query,
    knn_args,
    knn_documents,
    parse_entry,
)
from langchain_tokenopt.cache.records import CacheEntry, Candidate, StoredEntry
from langchain_tokenopt.errors import (
    BackendUnavailableError,
    CacheError,
    MissingDependencyError,
    TokenOptConfigError,
)

__all__ = ["RedisBackend"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_SCAN_BATCH = 1000
_TOUCH_SHA = hashlib.sha1(TOUCH_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis's script id


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _is_noscript(result: Any) -> bool:
    """Whether a pipeline reply says the server does not know the script (yet)."""
    from redis.exceptions import NoScriptError

    if isinstance(result, NoScriptError):
        return True
    text = str(result).lower() if isinstance(result, Exception) else ""
    return "noscript" in text or "no matching script" in text


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError("redis", extra="redis") from exc
    return redis


#: Oldest RediSearch (``MODULE LIST`` version) with VECTOR fields.
_MIN_SEARCH_VERSION = 20400
_NEEDS = "RedisBackend needs Redis 8 with the query engine or Redis Stack"


class _UnusableServerError(Exception):
    """The server answers but cannot serve this backend (capability probe failed)."""


def _is_backend_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the server or the wire (failed open), not from our code."""
    redis = _redis()
    from redis.exceptions import RedisClusterException

    return isinstance(
        exc, redis.RedisError | RedisClusterException | OSError | _UnusableServerError
    )


def _is_missing_index(exc: BaseException) -> bool:
    if not isinstance(exc, _redis().ResponseError):
        return False
    text = str(exc).lower()
    return "no such index" in text or "unknown index" in text or "not found" in text


def _outage_cause(exc: BaseException) -> tuple[str, str]:
    """Return ``(kind, one-line cause)`` of a backend failure, for the outage warning."""
    redis = _redis()
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, _UnusableServerError):
        return "capability", text
    unknown = re.search(r"unknown command [`'\"]?(ft\.[a-z_]+)", low)
    if unknown is not None:
        return "capability", f"{_NEEDS}: {unknown.group(1).upper()} unknown"
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError) or any(
        word in low for word in ("noauth", "wrongpass", "noperm", "invalid password")
    ):
        return "auth", f"authentication or permission refused ({text})"
    if isinstance(exc, redis.exceptions.InvalidResponse) or "protocol error" in low:
        return "protocol", f"the server does not speak the Redis protocol ({text})"
    if isinstance(exc, redis.TimeoutError | TimeoutError):
        return "timeout", f"no answer in time ({text})"
    if isinstance(exc, redis.ConnectionError | OSError):
        return "connection", f"cannot connect ({text})"
    if isinstance(exc, redis.ResponseError):
        return "command", f"the server refused a command ({text})"
    return "error", f"{type(exc).__name__}: {text}"


class RedisBackend(CacheBackend):
    """Shared cache for many app servers: Redis 8 / Redis Stack with RediSearch.

    Args:
        url: ``redis://`` URL.
        prefix: Key prefix (also names the index ``<prefix>idx``).
        dim: Vector dimension (384 for the packaged MiniLM).
        max_entries: Bound on entries, least recently used evicted (``None``: no bound).
        socket_timeout: Seconds before a Redis call counts as failed (fail open).
        connect_timeout: Seconds to open a new connection. A refused connection (Redis
            down) fails at once whatever this is; the wait is for a handshake that is only
            slow, e.g. a burst opening a whole pool on a loaded host, which would otherwise
            mark a healthy Redis as down.
        retry_interval: Seconds to skip Redis after a failure before trying again.
        hnsw_m: HNSW ``M`` parameter.
        hnsw_ef_construction: HNSW ``EF_CONSTRUCTION``.
        max_concurrency: Async Redis calls in flight at once (also the async pool size).
            Calls beyond it wait their turn in the event loop, so a burst of thousands of
            concurrent lookups queues instead of timing out on the pool and being served
            as misses; each call still has ``socket_timeout`` once it runs.

    Raises:
        TokenOptConfigError: an argument is invalid.
        MissingDependencyError: ``redis`` is not installed (extra ``redis``).

    Example:
        .. code-block:: python

            backend = RedisBackend(url="redis://localhost:6379/0", prefix="myapp:llm:")
    """

    def __init__(
        self,
        *,
        url: str,
        prefix: str = "tokenopt:cache:",
        dim: int = 384,
        max_entries: int | None = 1_000_000,
        socket_timeout: float = 0.5,
        connect_timeout: float = 2.0,
        retry_interval: float = 1.0,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 200,
        max_concurrency: int = 64,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            msg = f"url must be a redis://, rediss:// or unix:// URL, got {url!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{}* \t\n"):
            msg = f"prefix must be a non-empty string without braces, '*' or spaces, got {prefix!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(dim, int) or dim < 1:
            msg = f"dim must be a positive int, got {dim!r}"
            raise TokenOptConfigError(msg)
        if max_entries is not None and (not isinstance(max_entries, int) or max_entries < 1):
            msg = f"max_entries must be a positive int or None, got {max_entries!r}"
            raise TokenOptConfigError(msg)
        for name, value in (
            ("socket_timeout", socket_timeout),
            ("connect_timeout", connect_timeout),
            ("retry_interval", retry_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                msg = f"{name} must be a positive number of seconds, got {value!r}"
                raise TokenOptConfigError(msg)
        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            msg = f"max_concurrency must be a positive int, got {max_concurrency!r}"
            raise TokenOptConfigError(msg)
        _redis()  # a missing redis-py fails here, not on first use
        self.url = url
        self.max_concurrency = max_concurrency
        self.prefix = prefix
        self.index_name = f"{prefix}idx"
        self.lru_key = f"{prefix}lru"
        self.dim = dim
        self.max_entries = max_entries
        self.socket_timeout = float(socket_timeout)
        self.connect_timeout = float(connect_timeout)
        self.retry_interval = float(retry_interval)
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        options = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "health_check_interval": 0,
        }
        self._options = options
        self._sync_client: Any = None
        self._aclient: Any = None
        self._aclient_loop: Any = None
        self._gate: asyncio.Semaphore | None = None
        self._flow_gate: asyncio.Semaphore | None = None
        self._state = threading.Lock()
        self._down_since: float | None = None
        self._down_kind: str | None = None
        self._retry_at = 0.0
        self._index_ready = False

    # ------------------------------------------------------------------ clients

    @property
    def _client(self) -> Any:
        """The sync client, made on first use (a cluster client connects when made)."""
        if self._sync_client is None:
            self._sync_client = self._new_client()
        return self._sync_client

    def _new_client(self) -> Any:
        return _redis().Redis.from_url(self.url, **self._options)

    def _new_async_client(self) -> Any:
        """An asyncio client whose pool admits ``max_concurrency`` connections."""
        import redis.asyncio as aredis

        # The gate admits max_concurrency calls, each of which then finds a free
        # connection in a pool of that size at once: a burst queues on the gate (no
        # timeout) instead of timing out on the pool and marking Redis as down.
        pool = aredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_concurrency,
            timeout=self.socket_timeout,
            **self._options,
        )
        return aredis.Redis(connection_pool=pool)

    # ------------------------------------------------------------------ outage handling

    def _key(self, entry_id: str) -> str:
        return f"{self.prefix}{{{entry_id}}}"

    def _meta(self, entry_id: str) -> str:
        """Side hash of an entry (hits, refreshed expiry); same slot, outside the index."""
        return f"{self.prefix}meta:{{{entry_id}}}"

    def _check_up(self) -> None:
        with self._state:
            if self._down_since is not None and time.monotonic() < self._retry_at:
                msg = f"Redis at {self.url} is unavailable (retrying soon)"
                raise BackendUnavailableError(msg)

    def _failed(self, exc: BaseException) -> BackendUnavailableError:
        kind, cause = _outage_cause(exc)
        with self._state:
            now = time.monotonic()
            # one line per outage; a new line only when the cause itself changes
            if self._down_since is None or kind != self._down_kind:
                if self._down_since is None:
                    self._down_since = now
                self._down_kind = kind
                logger.warning(
                    "Redis cache at %s unavailable: %s; serving misses and dropping updates,"
                    " retrying every %g s",
                    self.url,
                    cause,
                    self.retry_interval,
                )
            self._retry_at = now + self.retry_interval
            self._index_ready = False
        return BackendUnavailableError(f"Redis at {self.url} is unavailable: {cause}")

    def _ok(self) -> None:
        if self._down_since is None:
            return
        with self._state:
            if self._down_since is not None:
                logger.warning(
                    "Redis cache at %s is back after %.1f s",
                    self.url,
                    time.monotonic() - self._down_since,
                )
                self._down_since = None
                self._down_kind = None

    @contextlib.contextmanager
    def _outages(self) -> Iterator[None]:
        """Turn a Redis failure inside into :class:`BackendUnavailableError`.

        The backend is then down for ``retry_interval``; a block that succeeds notes a recovery.
        """
        try:
            yield
        except BackendUnavailableError:
            raise
        except Exception as exc:
            if _is_backend_error(exc):
                raise self._failed(exc) from exc
            raise
        self._ok()

    def _run(self, fn: Callable[[], T]) -> T:
        self._check_up()
        with self._outages():
            if not self._index_ready:
                self._ensure_index()
            try:
                return fn()
            except Exception as exc:
                if not _is_missing_index(exc):
                    raise
                self._index_ready = False
                self._ensure_index()
                return fn()

    async def _arun(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        self._check_up()
        client, gate, _ = self._async_client()
        async with gate:
            # an outage noticed while this call queued: fail fast, do not wait a timeout
            self._check_up()
            return await self._arun_now(client, fn)

    async def _arun_now(self, client: Any, fn: Callable[[Any], Awaitable[T]]) -> T:
        with self._outages():
            if not self._index_ready:
                await asyncio.to_thread(self._ensure_index)
            try:
                return await fn(client)
            except Exception as exc:
                if not _is_missing_index(exc):
                    raise
                self._index_ready = False
                await asyncio.to_thread(self._ensure_index)
                return await fn(client)

    def _async_client(self) -> tuple[Any, asyncio.Semaphore, asyncio.Semaphore]:
        """Return the async client, the per-call gate and the admission gate of this loop."""
        loop = asyncio.get_running_loop()
        if (
            self._aclient is None
            or self._gate is None
            or self._flow_gate is None
            or self._aclient_loop is not loop
        ):
            self._aclient = self._new_async_client()
            self._gate = asyncio.Semaphore(self.max_concurrency)
            self._flow_gate = asyncio.Semaphore(self.max_concurrency)
            self._aclient_loop = loop
        return self._aclient, self._gate, self._flow_gate

    def admit(self) -> asyncio.Semaphore:
        """Admission for one whole async cache call (see :meth:`CacheBackend.admit`).

        At most ``max_concurrency`` calls run their steps at once; the rest wait before
        doing any work. Without it a burst of thousands of calls starts every call's CPU
        work (key building, JSON parsing) between the first calls' request and their
        reply, and those replies overrun ``socket_timeout`` on a busy event loop.
        """
        return self._async_client()[2]

    def _probe(self) -> None:
        """Check that the server can serve this backend (first connect, after an outage).

        Raises:
            _UnusableServerError: the search commands are missing, or the listed search
                module predates vector fields.
            redis.RedisError: the server could not be asked (failed open by the caller).
        """
        redis = _redis()
        try:
            self._client.execute_command("FT._LIST")
        except redis.ResponseError as exc:
            if "unknown command" in str(exc).lower():
                msg = f"{_NEEDS}: FT._LIST unknown (no search module on this server)"
                raise _UnusableServerError(msg) from exc
            raise
        try:
            modules = self._client.module_list()
        except redis.ResponseError:
            return  # MODULE LIST refused (ACL, managed service): FT._LIST answered
        for module in modules or ():
            try:
                info = {as_str(k): v for k, v in dict(module).items()}
                name = as_str(info.get("name", "")).lower()
                version = int(as_str(info.get("ver", 0)))
            except (TypeError, ValueError):
                continue  # a reply shape we do not know: FT._LIST answered, go on
            if name in ("search", "ft") and 0 < version < _MIN_SEARCH_VERSION:
                msg = (
                    f"{_NEEDS}: its search module {name} {version} predates vector search"
                    f" (needs {_MIN_SEARCH_VERSION} or later)"
                )
                raise _UnusableServerError(msg)

    def _ensure_index(self) -> None:
        redis = _redis()
        from redis.commands.search.field import TagField, VectorField
        from redis.commands.search.index_definition import IndexDefinition, IndexType

        self._probe()
        try:
            info = self._client.ft(self.index_name).info()
        except redis.ResponseError:
            fields = [TagField(name) for name in TAG_FIELDS]
            fields.append(
                VectorField(
                    "vector",
                    "HNSW",
                    {
                        "TYPE": "FLOAT32",
                        "DIM": self.dim,
                        "DISTANCE_METRIC": "COSINE",
                        "M": self.hnsw_m,
                        "EF_CONSTRUCTION": self.hnsw_ef_construction,
                    },
                )
            )
            definition = IndexDefinition(prefix=[self.prefix + "{"], index_type=IndexType.HASH)
            try:
                self._client.ft(self.index_name).create_index(fields, definition=definition)
            except redis.ResponseError as exc:
                if "already exists" not in str(exc).lower():
                    raise
        else:
            self._migrate_index(info)
        self._index_ready = True

    def _migrate_index(self, info: Any) -> None:
        """Add TAG fields an index made by an older version lacks (``FT.ALTER``, in place).

        Existing entries keep their vectors and stay searchable (they carry no tags); no
        document is rewritten. Two processes migrating at once: the loser's "duplicate"
        error is ignored.
        """
        redis = _redis()
        attributes = info.get("attributes", info.get(b"attributes")) or []
        have = set()
        for attribute in attributes:
            items = [as_str(x) for x in attribute] if isinstance(attribute, list) else []
            if "attribute" in items[:-1]:
                have.add(items[items.index("attribute") + 1])
            elif "identifier" in items[:-1]:
                have.add(items[items.index("identifier") + 1])
        for name in TAG_FIELDS:
            if have and name not in have:
                try:
                    self._client.execute_command(
                        "FT.ALTER", self.index_name, "SCHEMA", "ADD", name, "TAG"
                    )
                except redis.ResponseError as exc:
                    if "duplicate" not in str(exc).lower():
                        raise
                logger.info("Redis cache index %s: added TAG field %s", self.index_name, name)

    # ------------------------------------------------------------------ queries (shared)

    @staticmethod
    def _candidates(reply: Any) -> list[Candidate]:
        """The KNN documents as candidates, nearest first, their expiry not yet checked."""
        out = []
        try:
            for fields in knn_documents(reply):
                entry = parse_entry(fields, now=None)
                if entry is not None:
                    dist = fields.get(b"dist", fields.get("dist"))
                    out.append(Candidate(entry=entry, similarity=1.0 - float(as_str(dist))))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            msg = f"unexpected FT.SEARCH reply from Redis: {type(exc).__name__}: {exc}"
            raise CacheError(msg) from exc
        return out

    @staticmethod
    def _entry(fields: Any) -> CacheEntry | None:
        """An entry from its hash fields, its expiry not yet checked."""
        try:
            return parse_entry(fields, now=None)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            msg = f"unreadable cache entry in Redis: {type(exc).__name__}: {exc}"
            raise CacheError(msg) from exc

    @staticmethod
    def _expired(entry: CacheEntry, now: float) -> bool:
        return entry.expires_at is not None and entry.expires_at <= now

    @staticmethod
    def _refreshed(entry: CacheEntry, moved: Any, now: float) -> CacheEntry | None:
        """The entry with the expiry a refresh-on-hit moved (side hash), or ``None`` if dead."""
        if moved is None or float(as_str(moved)) <= now:
            return None
        return replace(entry, expires_at=float(as_str(moved)))

    def _live(self, entry: CacheEntry | None, now: float) -> CacheEntry | None:
        """``entry`` if alive at ``now``; past its written expiry, ask its side hash.

        Redis returned the hash, so its key lives: a refresh-on-hit moved the key's expiry
        and wrote the new one in the side hash (rare: one more round trip only then).
        """
        if entry is None or not self._expired(entry, now):
            return entry
        moved = self._run(lambda: self._client.hget(self._meta(entry.entry_id), "expires_at"))
        return self._refreshed(entry, moved, now)

    async def _alive(self, entry: CacheEntry | None, now: float) -> CacheEntry | None:
        """Async :meth:`_live`."""
        if entry is None or not self._expired(entry, now):
            return entry
        meta = self._meta(entry.entry_id)
        moved = await self._arun(lambda c: c.hget(meta, "expires_at"))
        return self._refreshed(entry, moved, now)

    def _live_shortlist(
        self, found: Sequence[Candidate], now: float, k: int, min_similarity: float
    ) -> list[Candidate]:
        """The candidates whose entry is alive (:meth:`_live`), shortlisted to ``k``."""
        out = []
        for candidate in found:
            entry = self._live(candidate.entry, now)
            if entry is not None:
                out.append(replace(candidate, entry=entry))
        return _shortlist(out, k, min_similarity)

    async def _alive_shortlist(
        self, found: Sequence[Candidate], now: float, k: int, min_similarity: float
    ) -> list[Candidate]:
        """Async :meth:`_live_shortlist`."""
        out = []
        for candidate in found:
            entry = await self._alive(candidate.entry, now)
            if entry is not None:
                out.append(replace(candidate, entry=entry))
        return _shortlist(out, k, min_similarity)

    def _touch_args(self, entry_id: str, now: float, expires_at: float | None) -> tuple[Any, ...]:
        ms, seconds = ("", "") if expires_at is None else (int(expires_at * 1000), repr(expires_at))
        keys = (self._key(entry_id), self._meta(entry_id), self.lru_key)
        return ("EVALSHA", _TOUCH_SHA, 3, *keys, entry_id, repr(now), ms, seconds)

    def _put_pipeline(self, pipe: Any, entry: CacheEntry) -> None:
        key = self._key(entry.entry_id)
        pipe.delete(key, self._meta(entry.entry_id))
        pipe.hset(key, mapping=entry_mapping(entry))
        if entry.expires_at is not None:
            pipe.pexpireat(key, int(entry.expires_at * 1000))
        pipe.zadd(self.lru_key, {entry.entry_id: entry.created_at})
        pipe.zcard(self.lru_key)

    def _excess(self, results: list[Any]) -> int:
        if self.max_entries is None:
            return 0
        return int(results[-1]) - self.max_entries

    # ------------------------------------------------------------------ sync API

    def get(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Return the live entry with this id, or ``None``."""
        entry = self._entry(self._run(lambda: self._client.hgetall(self._key(entry_id))))
        return self._live(entry, now)

    def search(self, scope: str, vector: np.ndarray, *, now: float) -> Candidate | None:
        """Return the nearest live entry of ``scope`` (the first of :meth:`search_candidates`)."""
        found = self.search_candidates(scope, vector, now=now, k=1)
        return found[0] if found else None

    def search_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Up to ``k`` live entries of ``scope``, nearest first, from one pre-filtered KNN query."""
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        args = knn_args(self.index_name, scope, blob, k)
        found = self._candidates(self._run(lambda: self._client.execute_command(*args)))
        return self._live_shortlist(found, now, k, min_similarity)

    def put(self, entry: CacheEntry) -> None:
        """Insert or replace an entry; evict LRU entries over ``max_entries``."""

        def write() -> None:
            pipe = self._client.pipeline(transaction=False)
            self._put_pipeline(pipe, entry)
            excess = self._excess(pipe.execute())
            if excess > 0:
                popped = self._client.zpopmin(self.lru_key, excess)
                ids = [as_str(member) for member, _ in popped]
                if ids:
                    self._client.delete(*self._keys_of(ids))

        self._run(write)

    def _keys_of(self, ids: Sequence[str]) -> list[str]:
        return [k for i in ids for k in (self._key(i), self._meta(i))]

    def touch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Count a hit, mark the entry used now (LRU) and move a refreshed expiry.

        One ``EVALSHA`` (the script is loaded once when the server does not know it yet).
        """
        args = self._touch_args(entry_id, now, expires_at)

        def mark() -> None:
            try:
                self._client.execute_command(*args)
            except Exception as exc:
                if not _is_noscript(exc):
                    raise
                self._client.script_load(TOUCH_SCRIPT)
                self._client.execute_command(*args)

        self._run(mark)

    def delete(self, entry_id: str) -> bool:
        """Delete one entry; return whether it existed."""

        def drop() -> bool:
            pipe = self._client.pipeline(transaction=False)
            pipe.delete(self._key(entry_id))
            pipe.delete(self._meta(entry_id))
            pipe.zrem(self.lru_key, entry_id)
            return bool(pipe.execute()[0])

        return self._run(drop)

    def _first_ids(self, filters: dict[str, str], tags: Sequence[str] | None) -> list[str]:
        """Ids of up to one batch of matching entries (no offsets: we delete as we go)."""
        from redis.commands.search.query import Query

        query = Query(filter_query(filters, tags)).no_content().paging(0, _SCAN_BATCH).dialect(2)
        result = self._client.ft(self.index_name).search(query)
        return [as_str(doc.id)[len(self.prefix) + 1 : -1] for doc in result.docs]

    def _drop_all(self) -> int:
        """Drop the index with its documents (FT.DROPINDEX DD), then recreate it."""
        redis = _redis()
        try:
            count = int(self._client.ft(self.index_name).info().get("num_docs", 0))
            self._client.ft(self.index_name).dropindex(delete_documents=True)
        except redis.ResponseError:
            count = 0
        self._client.delete(self.lru_key)
        pattern = _glob_escape(self.prefix) + "meta:{*"
        batch: list[Any] = []
        for key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
            batch.append(key)
            if len(batch) >= _SCAN_BATCH:
                self._client.delete(*batch)
                batch.clear()
        if batch:
            self._client.delete(*batch)
        self._index_ready = False
        self._ensure_index()
        return count

    def clear(self, **where: Unpack[EntryFilter]) -> int:
        """Delete all entries of this prefix, or those matching every filter (any of ``tags``)."""
        filters, tags = _filters(where), where.get("tags")
        return self._run(
            lambda: self._drop_matching(filters, tags) if filters or tags else self._drop_all()
        )

    def _drop_matching(self, filters: dict[str, str], tags: Sequence[str] | None) -> int:
        """Delete the entries matching the filters, a batch at a time; return how many."""
        total = 0
        while ids := self._first_ids(filters, tags):
            pipe = self._client.pipeline(transaction=False)
            for entry_id in ids:
                pipe.delete(self._key(entry_id), self._meta(entry_id))
            pipe.zrem(self.lru_key, *ids)
            pipe.execute()
            total += len(ids)
        return total

    def entries(
        self, *, now: float, limit: int | None = None, **where: Unpack[EntryFilter]
    ) -> list[StoredEntry]:
        """List live entries matching every filter (any of ``tags``), newest first.

        Reads every matching entry's small fields (an admin call, not a hot path), then
        their hit counts and last use in one pipeline.
        """
        filters, tags = _filters(where), where.get("tags")

        def read() -> list[StoredEntry]:
            rows = self._matching_rows(filters, tags)
            pipe = self._client.pipeline(transaction=False)
            for row in rows:
                pipe.hmget(self._row_meta(row), "hits", "expires_at")
                pipe.zscore(self.lru_key, self._row_member(row))
            replies = pipe.execute() if rows else []
            return [
                listed
                for n, row in enumerate(rows)
                if (listed := _listed(row, replies[2 * n], replies[2 * n + 1], now)) is not None
            ]

        listed = sorted(self._run(read), key=lambda e: (-e.created_at, e.entry_id))
        return listed if limit is None else listed[:limit]

    def _matching_rows(
        self, filters: dict[str, str], tags: Sequence[str] | None
    ) -> list[dict[str, str]]:
        """The small fields (``LIST_FIELDS``) of every matching entry, paged from the index."""
        from redis.commands.search.query import Query

        rows: list[dict[str, str]] = []
        while True:
            query = (
                Query(filter_query(filters, tags))
                .return_fields(*LIST_FIELDS)
                .paging(len(rows), _SCAN_BATCH)
                .dialect(2)
            )
            page = self._client.ft(self.index_name).search(query).docs
            rows.extend({f: as_str(getattr(d, f, "") or "") for f in LIST_FIELDS} for d in page)
            if len(page) < _SCAN_BATCH:
                return rows

    def _row_meta(self, row: dict[str, str]) -> str:
        """The key of the hash holding a listed entry's hit count and expiry."""
        return self._meta(row["eid"])

    def _row_member(self, row: dict[str, str]) -> str:
        """A listed entry's member in the LRU order."""
        return row["eid"]

    def count(self) -> int:
        """Return the number of indexed entries."""
        info = self._run(lambda: self._client.ft(self.index_name).info())
        return int(info.get("num_docs", info.get(b"num_docs", 0)))

    # ------------------------------------------------------------------ calibration state

    @property
    def calibration_key(self) -> str:
        """The hash holding the threshold-calibration states (one field per key)."""
        return f"{self.prefix}calibration"

    def calibration_states(self) -> dict[str, str]:
        """Return the stored threshold-calibration states, by key."""
        raw = self._run(lambda: self._client.hgetall(self.calibration_key))
        return {as_str(k): as_str(v) for k, v in raw.items()}

    def save_calibration_state(self, key: str, state: str) -> None:
        """Insert or replace one threshold-calibration state."""
        self._run(lambda: self._client.hset(self.calibration_key, key, state))

    def delete_calibration_state(self, key: str | None = None) -> None:
        """Delete one threshold-calibration state, or all of them (``None``)."""
        if key is None:
            self._run(lambda: self._client.delete(self.calibration_key))
        else:
            self._run(lambda: self._client.hdel(self.calibration_key, key))

    def close(self) -> None:
        """Close the connection pools."""
        if self._sync_client is not None:
            self._sync_client.close()

    # ------------------------------------------------------------------ async API

    async def aget(self, entry_id: str, *, now: float) -> CacheEntry | None:
        """Async :meth:`get` on the asyncio Redis client."""
        fields = await self._arun(lambda c: c.hgetall(self._key(entry_id)))
        return await self._alive(self._entry(fields), now)

    async def asearch(self, scope: str, vector: np.ndarray, *, now: float) -> Candidate | None:
        """Async :meth:`search`."""
        found = await self.asearch_candidates(scope, vector, now=now, k=1)
        return found[0] if found else None

    async def asearch_candidates(
        self, scope: str, vector: np.ndarray, *, now: float, k: int, min_similarity: float = -1.0
    ) -> list[Candidate]:
        """Async :meth:`search_candidates` on the asyncio Redis client."""
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        args = knn_args(self.index_name, scope, blob, k)
        found = self._candidates(await self._arun(lambda c: c.execute_command(*args)))
        return await self._alive_shortlist(found, now, k, min_similarity)

    async def aput(self, entry: CacheEntry) -> None:
        """Async :meth:`put` on the asyncio Redis client."""

        async def write(client: Any) -> None:
            pipe = client.pipeline(transaction=False)
            self._put_pipeline(pipe, entry)
            excess = self._excess(await pipe.execute())
            if excess > 0:
                popped = await client.zpopmin(self.lru_key, excess)
                ids = [as_str(member) for member, _ in popped]
                if ids:
                    await client.delete(*self._keys_of(ids))

        await self._arun(write)

    async def atouch(self, entry_id: str, *, now: float, expires_at: float | None = None) -> None:
        """Async :meth:`touch`."""
        args = self._touch_args(entry_id, now, expires_at)

        async def mark(client: Any) -> None:
            try:
                await client.execute_command(*args)
            except Exception as exc:
                if not _is_noscript(exc):
                    raise
                await client.script_load(TOUCH_SCRIPT)
                await client.execute_command(*args)

        await self._arun(mark)

    async def adelete(self, entry_id: str) -> bool:
        """Async :meth:`delete`."""

        async def drop(client: Any) -> bool:
            pipe = client.pipeline(transaction=False)
            pipe.delete(self._key(entry_id))
            pipe.delete(self._meta(entry_id))
            pipe.zrem(self.lru_key, entry_id)
            return bool((await pipe.execute())[0])

        return await self._arun(drop)


def _listed(doc: dict[str, str], meta: Any, last_used: Any, now: float) -> StoredEntry | None:
    """A listed entry from its indexed fields and side hash (``None`` once expired)."""
    import json

    hits, moved = meta if isinstance(meta, list | tuple) else (None, None)
    expires = as_str(moved) if moved is not None else doc["expires_at"]
    expires_at = float(expires) if expires else None
    if expires_at is not None and expires_at <= now:
        return None
    return StoredEntry(
        entry_id=doc["eid"],
        text=doc["text"],
        tags=tuple(json.loads(doc["tag_names"])) if doc["tag_names"] else (),
        hits=int(as_str(hits)) if hits is not None else 0,
        created_at=float(doc["created_at"]),
        expires_at=expires_at,
        last_used=float(last_used) if last_used is not None else None,
        ttl=float(doc["ttl"]) if doc["ttl"] else None,
    )


def _filters(where: EntryFilter) -> dict[str, str]:
    """The digest filters that were given (``None`` means any), without the tags."""
    given = {
        "tenant": where.get("tenant"),
        "user": where.get("user"),
        "model": where.get("model"),
        "model_name": where.get("model_name"),
    }
    return {k: v for k, v in given.items() if v is not None}
