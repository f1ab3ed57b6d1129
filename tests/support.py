"""Helpers for tests that run real processes: line readers that let a test wait without sleeping."""

from __future__ import annotations

import http.server
import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.testing import ISSUER, Issuer


class LineReader:
    """Reads a process's output on a thread; `wait_for` blocks until a matching line arrives."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._reader.start()

    def _pump(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self._lines.put(line.rstrip("\n"))

    def wait_for_text(self, needle: str, timeout: float = 60.0) -> str:
        """The first unread line containing `needle`."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} within {timeout}s; saw {self.seen[-20:]}") from None
            self.seen.append(line)
            if needle in line:
                return line

    def wait_for(self, event: str, timeout: float = 30.0, **fields: object) -> dict[str, object]:
        """The first unread JSON log record of `event` whose fields match."""
        while True:
            line = self.wait_for_text(f'"event": "{event}"', timeout)
            record: dict[str, object] = json.loads(line)
            if all(record.get(k) == v for k, v in fields.items()):
                return record

    def close(self) -> None:
        """Waits for the reader to reach the end of the stream (the process has exited)."""
        self._reader.join(10)


@contextmanager
def serving_jwks(issuer: Issuer = ISSUER) -> Iterator[str]:
    """Serves `issuer`'s JWKS over HTTP on a free loopback port, for service processes that fetch
    their keys by TEEI_JWKS_URL; yields that URL."""
    body = json.dumps(issuer.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/auth/jwks"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The `reason` of the ErrorInfo detail a refused call carries ('' without one)."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries google.rpc.Status details"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
