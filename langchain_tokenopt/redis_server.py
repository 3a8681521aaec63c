"""Start and stop a local Redis 8 server with RediSearch + ReJSON, from the wheels.

For tests, benchmarks and the offline demo: no system Redis is needed. The server binds
loopback only, on a free port, in its own folder, and is stopped by PID.

Example:
    .. code-block:: python

        from langchain_tokenopt.redis_server import RedisServer

        with RedisServer() as server:
            print(server.url)  # redis://127.0.0.1:PORT/0
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

from langchain_tokenopt._assets import redis_module_paths, redis_server_binary
from langchain_tokenopt.errors import BackendUnavailableError

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A throw-away ``redis-server`` process with the search and JSON modules loaded.

    Args:
        port: TCP port on 127.0.0.1 (a free one when ``None``).
        directory: Working folder for logs and persistence (a temp folder when ``None``).
        persistence: Turn on AOF (``appendfsync always``) and RDB so a restart keeps data.
        startup_timeout: Seconds to wait for ``PING`` to answer.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        persistence: bool = False,
        startup_timeout: float = 15.0,
    ) -> None:
        self.port = port or free_port()
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
        return cmd

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
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith(b"+PONG")
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

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
