"""Helpers for tests that run real processes: line readers that let a test wait without sleeping."""

from __future__ import annotations

import http.server
import json
import queue
import threading
from typing import IO

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.cli.edge import JwtSettings
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


class JwksServer:
    """A plain HTTP server on loopback publishing `issuer`'s keys at /jwks (and /auth/jwks, the edge's
    path), for service processes (TEEI_JWKS_URL) and Envoys (JwtSettings) that fetch keys over HTTP."""

    PATH = "/jwks"
    PATHS = frozenset({PATH, "/auth/jwks"})

    def __init__(self, issuer: Issuer = ISSUER) -> None:
        body = json.dumps(issuer.jwks()).encode()
        paths = self.PATHS

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path in paths
                self.send_response(200 if found else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The JWKS URL (what TEEI_JWKS_URL takes)."""
        return f"http://127.0.0.1:{self.port}{self.PATH}"

    def settings(self) -> JwtSettings:
        """Edge JWT settings fetching the keys from this server."""
        return JwtSettings(jwks_host="127.0.0.1", jwks_port=self.port, jwks_path=self.PATH)

    def close(self) -> None:
        """Stops serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> JwksServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
