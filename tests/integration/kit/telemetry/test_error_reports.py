"""The synthetic error of RaiseDiagnosticError reaches a Sentry endpoint as the SDK sends it: one envelope with
the RPC, tenant, release and request id, and without the caller's token or e-mail address."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.gateway import bootstrap
from services.kit import testing
from services.kit.config import ServiceConfig
from services.kit.telemetry import errors_report
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

KEK = base64.b64encode(b"s" * 32).decode()
ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": KEK}


class _Collector(BaseHTTPRequestHandler):
    """Sentry's ingestion endpoint: keeps every request body, answers 200."""

    bodies: list[bytes]
    arrived: threading.Event

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        type(self).bodies.append(raw)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")
        type(self).arrived.set()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[type[_Collector]]:
    handler = type("Handler", (_Collector,), {"bodies": [], "arrived": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = errors_report.ErrorReportSettings(
        dsn=f"http://publickey@127.0.0.1:{server.server_port}/42", environment="test", release="teei-mesh@test"
    )
    assert errors_report.configure(settings, service="gateway")
    try:
        yield handler
    finally:
        errors_report.close()
        server.shutdown()
        server.server_close()


def _events(bodies: list[bytes]) -> list[dict[str, Any]]:
    """The event items of Sentry envelopes (newline-separated JSON: header, then item header and payload)."""
    found = []
    for body in bodies:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


async def test_the_synthetic_error_reaches_sentry_scrubbed(tmp_path: Path, sentry: type[_Collector]) -> None:
    token = testing.ISSUER.token(role="super_admin", tenant="acme", subject="ops-1")
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    async with testing.running(bootstrap.build(config, environ=ENVIRON)) as (_, channel):
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        request = gateway_pb2.RaiseDiagnosticErrorRequest(note="drill by ada@example.org")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.RaiseDiagnosticError(request, metadata=testing.bearer(token))
    assert raised.value.code() is grpc.StatusCode.INTERNAL
    errors_report.close()  # flushes the transport's queue
    assert sentry.arrived.wait(10), "no envelope reached the Sentry endpoint"
    raw = b"".join(sentry.bodies)
    assert token.encode() not in raw
    assert token.split(".")[1].encode() not in raw
    assert b"ada@example.org" not in raw
    (event,) = _events(sentry.bodies)
    assert event["tags"]["rpc.method"] == "/teei.gateway.v1.GatewayService/RaiseDiagnosticError"
    assert event["tags"]["tenant"] == "acme"
    assert event["tags"]["service"] == "gateway"
    assert event["tags"]["request_id"]
    assert event["release"] == "teei-mesh@test"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "DiagnosticFailure"
    assert "[email]" in exception["value"]
    assert event["contexts"]["rpc_metadata"]["authorization"] == errors_report.FILTERED


async def test_a_caller_without_platform_rights_cannot_raise_it(tmp_path: Path) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    async with testing.running(bootstrap.build(config, environ=ENVIRON)) as (_, channel):
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.RaiseDiagnosticError(
                gateway_pb2.RaiseDiagnosticErrorRequest(), metadata=testing.tenant("acme", role="company_admin")
            )
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_scrub_filters_secret_keys_tokens_and_user_details() -> None:
    event = {
        "message": "failed for Bearer abc.def.ghi and eyJhbGciOi.eyJzdWIi.c2ln, whsec_12345",
        "extra": {"password": "hunter2", "nested": [{"api_key": "k"}, "mail bob@example.com"]},
        "user": {"id": "u-1", "email": "bob@example.com", "ip_address": "10.0.0.1"},
    }
    cleaned = errors_report.scrub(event, {})
    text = json.dumps(cleaned)
    for secret in ("abc.def.ghi", "eyJhbGciOi", "whsec_12345", "hunter2", "bob@example.com", "10.0.0.1"):
        assert secret not in text
    assert cleaned["user"] == {"id": "u-1"}
    assert cleaned["extra"]["nested"][0]["api_key"] == errors_report.FILTERED


def test_without_a_dsn_nothing_is_configured() -> None:
    assert errors_report.configure(errors_report.ErrorReportSettings(), service="gateway") is False
