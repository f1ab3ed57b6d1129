"""Traces through the whole mesh (`teei up`): the edge continues a caller's traceparent into the service's
server span, a Kintell CSV import is one trace across kintell, the relay, profile's consumer, safety
and q2q, exported spans carry no e-mail, token or secret, and a collector that is not there never
stops the mesh from answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli import spec
from services.cli.launcher import Mesh
from services.kit.telemetry.store import SpanStore
from tests.e2e.conftest import MeshProcess, mint

pytestmark = pytest.mark.e2e

KINTELL_HEADER = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)
EMAILS = ("trace.amira@example.org", "trace.vera@example.org")


def eventually(probe: Callable[[], Any], *, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < deadline, f"not reached within {timeout}s"
        time.sleep(0.5)  # polling interval of a bounded wait: spans are exported in batches


def traces_get(var_dir: Path, trace_id: str) -> list[dict[str, Any]]:
    """`teei traces get TRACE_ID --json`, as an operator runs it."""
    command = [sys.executable, "-m", "services.cli", "traces", "--var-dir", str(var_dir), "get", trace_id, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=spec.REPO_ROOT, check=False)
    if done.returncode != 0:
        return []
    spans: list[dict[str, Any]] = json.loads(done.stdout)
    return spans


def test_the_edge_span_and_the_service_span_continue_the_callers_trace(mesh: MeshProcess) -> None:
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {**mesh.auth(), "traceparent": f"00-{trace_id}-{caller_span}-01"}
    missing = "0b1c2d3e-0000-4000-8000-000000000000"
    response = httpx.get(f"{mesh.edge_url}/v1/profiles/{missing}", headers=headers, timeout=30)
    assert response.status_code == 404
    info = next(d for d in response.json()["details"] if d["@type"].endswith("RequestInfo"))
    assert info["serving_data"] == f"trace_id={trace_id}"
    assert info["request_id"] == response.headers["x-request-id"]

    def both() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None:
        spans = traces_get(mesh.var_dir, trace_id)
        ids = {s["span_id"] for s in spans}
        # Wait for the whole trace: one root, and it is the span whose parent is the caller's (the edge's
        # entry span, asserted below). Spans arrive in batches, and a child (the service's span, a statement)
        # can arrive before its parent: until the entry span is in, the service's span is a root too.
        roots = [s for s in spans if s["parent_span_id"] not in ids]
        server = [s for s in spans if s["service"] == "profile" and s["name"].endswith("ProfileService/GetProfile")]
        whole = len(roots) == 1 and roots[0]["parent_span_id"] == caller_span
        return (roots[0], server[0], spans) if whole and server else None

    edge, server, spans = eventually(both)
    seen = [(s["service"], s["name"], s["kind"], s["span_id"], s["parent_span_id"]) for s in spans]
    assert (edge["service"], edge["kind"]) == ("edge", "SERVER"), seen
    assert edge["parent_span_id"] == caller_span, seen
    assert server["parent_span_id"] == edge["span_id"], seen
    assert {edge["trace_id"], server["trace_id"]} == {trace_id}
    assert server["attributes"]["rpc.system"] == "grpc"
    assert server["attributes"]["rpc.grpc.status_code"] == 5
    assert server["attributes"]["teei.tenant_id"] == "acme"
    assert server["attributes"]["teei.request_id"] == info["request_id"]
    assert "?" not in str(edge["attributes"].get("http.url", ""))


def test_a_kintell_import_is_one_trace_from_the_edge_to_q2q(mesh: MeshProcess) -> None:
    trace_id = "5a1e0000c0ffee00000000000000beef"
    rows = [
        f"tr-1,{EMAILS[0]},{EMAILS[1]},2026-03-01,2026-03-01T11:00:00Z,60,0.9,"
        '"I feel much more confident speaking now, and I made new friends",B1,travel',
    ]
    body = "\r\n".join([KINTELL_HEADER, *rows]) + "\r\n"
    headers = {**mesh.auth(), "content-type": "text/csv", "traceparent": f"00-{trace_id}-1111111111111111-01"}
    response = httpx.post(f"{mesh.edge_url}/v1/kintell/imports", content=body.encode(), headers=headers, timeout=60)
    assert response.status_code == 200, response.text

    def complete() -> list[dict[str, Any]] | None:
        spans = traces_get(mesh.var_dir, trace_id)
        consumers = {s["service"] for s in spans if s["kind"] == "CONSUMER"}
        # Envoy exports its span in its own batches: wait for it too, not only for the consumers'.
        edge = any(s["service"] == "edge" for s in spans)
        return spans if edge and {"profile", "safety", "q2q"} <= consumers else None

    spans = eventually(complete)
    by_id = {s["span_id"]: s for s in spans}
    assert {"edge", "kintell", "profile", "safety", "q2q"} <= {s["service"] for s in spans}
    sends = [s for s in spans if s["kind"] == "PRODUCER" and s["service"] == "kintell"]
    assert sends, "the kintell outbox relay's send spans are in the trace"
    profile = next(s for s in spans if s["kind"] == "CONSUMER" and s["service"] == "profile")
    assert by_id[profile["parent_span_id"]]["kind"] == "PRODUCER", "a consumer continues its producer's send span"
    assert profile["attributes"]["messaging.system"] == "nats"
    assert profile["attributes"]["messaging.destination.name"].startswith("teei.events.")
    assert any(s["attributes"].get("db.system") == "sqlite" for s in spans), "statements are spans too"


def test_no_span_carries_an_email_a_token_or_a_secret(mesh: MeshProcess) -> None:
    token = mesh.auth()["authorization"].removeprefix("Bearer ")
    httpx.get(f"{mesh.edge_url}/v1/profiles", params={"email": EMAILS[0]}, headers=mesh.auth(), timeout=30)
    secrets = [token, *EMAILS, *(p.read_text().strip() for p in mesh.var_dir.glob("*.key"))]
    store = SpanStore(mesh.var_dir / "telemetry")
    eventually(lambda: len(store.spans()) > 0)
    time.sleep(3)  # one export interval of the batch processors (5 s by default) passes before scanning
    exported = store.path.read_text()
    leaked = [secret[:12] for secret in secrets if secret and secret in exported]
    assert not leaked, f"exported spans hold {leaked}"


@pytest.fixture(scope="module")
def nowhere_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    environ = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{spec.free_port()}"}
    resources = tuple(r for r in spec.with_free_ports(spec.load()) if r.kind != "otlp")
    running = Mesh(resources=resources, var_dir=tmp_path_factory.mktemp("nowhere") / "var", environ=environ)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_a_collector_that_is_not_there_never_stops_a_request(nowhere_mesh: Mesh) -> None:
    headers = {"authorization": f"Bearer {mint(nowhere_mesh.var_dir)}"}
    with httpx.Client(base_url=nowhere_mesh.edge_url, headers=headers, timeout=10) as edge:
        created = edge.post("/v1/profiles", json={"email": "nowhere@example.org"})
        assert created.status_code == 200, created.text
        started = time.monotonic()
        for _ in range(20):
            assert edge.get(f"/v1/profiles/{created.json()['profile']['profile_id']}").status_code == 200
        assert time.monotonic() - started < 10, "requests wait for no exporter"
