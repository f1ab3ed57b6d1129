"""A small OTLP/HTTP trace receiver for the local mesh: `POST /v1/traces` (protobuf, optionally gzip)
is stored as JSON lines by `store.SpanStore`; `GET /healthz` answers 200. `teei up` runs it as the
`otel` resource of tilt.yaml when no OTEL_EXPORTER_OTLP_ENDPOINT is given. It is a development
viewer's inbox, not a collector: no sampling, batching or forwarding of its own."""

from __future__ import annotations

import argparse
import gzip
import signal
import sys
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from services.kit.telemetry.store import SpanStore, span_records

MAX_BODY_BYTES = 16 * 1024 * 1024
PROTOBUF = "application/x-protobuf"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(HTTPStatus.OK, b"ok\n", "text/plain")
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        if self.path != "/v1/traces":
            self._answer(HTTPStatus.NOT_FOUND, b"only /v1/traces is received here\n", "text/plain")
            return
        body = self._body()
        if not body or len(body) > MAX_BODY_BYTES:
            self._answer(HTTPStatus.BAD_REQUEST, b"a body of 1 byte to 16 MiB is required\n", "text/plain")
            return
        try:
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        except (OSError, DecodeError) as exc:
            self._answer(HTTPStatus.BAD_REQUEST, f"not an OTLP protobuf trace export: {exc}\n".encode(), "text/plain")
            return
        self.server.store.append(span_records(request))
        self._answer(HTTPStatus.OK, trace_service_pb2.ExportTraceServiceResponse().SerializeToString(), PROTOBUF)

    def _body(self) -> bytes:
        """The request body, sized by content-length or sent in chunks (Envoy's exporter may chunk)."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            parts, total = [], 0
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                total += size
                if total > MAX_BODY_BYTES:
                    return b""
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if 0 < length <= MAX_BODY_BYTES else b""

    def _answer(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: every service exports every few seconds."""


class Receiver(ThreadingHTTPServer):
    """The HTTP server; `store` holds what it receives."""

    daemon_threads = True

    def __init__(self, host: str, port: int, store: SpanStore) -> None:
        super().__init__((host, port), _Handler)
        self.store = store


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m services.kit.telemetry.receiver --port P --dir var/telemetry`: serves until SIGTERM."""
    parser = argparse.ArgumentParser(prog="teei-otlp-receiver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="folder of spans.jsonl")
    args = parser.parse_args(argv)
    receiver = Receiver(args.host, args.port, SpanStore(args.dir))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=receiver.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"otlp receiver on http://{args.host}:{receiver.server_address[1]}, spans in {args.dir}", flush=True)
    receiver.serve_forever(poll_interval=0.2)
    receiver.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
