"""The dead-letter admin RPCs through the edge of the running mesh: routed to the gateway, transcoded
from REST, allowed for super admins only (edge RBAC), and reaching the mesh's own NATS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from services.cli import spec
from services.cli.launcher import Mesh
from services.kit.messaging.eventbus import DLQ_PREFIX, STREAM
from teei.events.v1 import envelope_pb2
from tests.e2e.conftest import auth

pytestmark = pytest.mark.e2e
ADMIN = "/v1/admin/dead-letters"
T = TypeVar("T")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """Its own mesh: these tests add and drop dead letters in the mesh's NATS."""
    resources = spec.with_free_ports(spec.load())
    running = Mesh(resources=resources, var_dir=tmp_path_factory.mktemp("operations") / "var", health_interval_ms=200)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _on_nats(mesh: Mesh, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    async def run() -> T:
        nc = await nats.connect(f"nats://127.0.0.1:{mesh.resource('nats').port}", connect_timeout=5)
        try:
            return await action(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


def _dead_letter(mesh: Mesh, consumer: str, subject: str) -> str:
    """Publishes one dead letter of `consumer` whose original subject is `subject`; returns its event id."""
    event_id = str(uuid.uuid4())
    envelope = envelope_pb2.Envelope(id=event_id, type="e2e.operations.tested", tenant="acme", specversion="1.0")
    headers = {"Teei-Consumer": consumer, "Teei-Attempts": "5", "Teei-Original-Subject": subject}

    async def publish(js: JetStreamContext) -> None:
        await js.publish(DLQ_PREFIX + consumer, envelope.SerializeToString(), headers=headers)

    _on_nats(mesh, publish)
    return event_id


def _client(mesh: Mesh, role: str | None = "super_admin") -> httpx.Client:
    headers = auth(mesh.var_dir, None, role=role) if role else {}
    return httpx.Client(base_url=mesh.edge_url, headers=headers, timeout=60.0)


def _letters(client: httpx.Client, consumer: str) -> list[dict[str, Any]]:
    response = client.get(ADMIN, params={"consumer": consumer})
    assert response.status_code == 200, response.text
    letters: list[dict[str, Any]] = response.json().get("dead_letters", [])
    return letters


def test_super_admin_lists_shows_replays_and_purges_over_rest(mesh: Mesh) -> None:
    consumer, subject = f"e2e-{uuid.uuid4().hex[:8]}", f"teei.events.e2e.operations.{uuid.uuid4().hex[:8]}"
    event_id = _dead_letter(mesh, consumer, subject)
    with _client(mesh) as operator:
        (letter,) = _letters(operator, consumer)
        assert (letter["event_id"], letter["tenant"], letter["attempts"]) == (event_id, "acme", 5)
        assert not {"envelope", "data"} & set(letter), "lists never carry payloads"

        shown = operator.get(f"{ADMIN}/{letter['sequence']}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["envelope"]["id"] == event_id

        replayed = operator.post(f"{ADMIN}/{letter['sequence']}:replay", json={})
        assert replayed.status_code == 200, replayed.text
        assert _letters(operator, consumer) == []
        republished = _on_nats(mesh, lambda js: js.get_last_msg(STREAM, subject))
        assert envelope_pb2.Envelope.FromString(republished.data or b"").id == event_id
        assert operator.get(f"{ADMIN}/{letter['sequence']}").status_code == 404

        _dead_letter(mesh, consumer, subject)
        refused = operator.post(f"{ADMIN}:purge", json={"consumer": consumer})
        assert refused.status_code == 400, refused.text
        assert len(_letters(operator, consumer)) == 1
        purged = operator.post(f"{ADMIN}:purge", json={"confirm": True, "consumer": consumer})
        assert purged.status_code == 200, purged.text
        assert purged.json()["purged_count"] == 1
        assert _letters(operator, consumer) == []


@pytest.mark.parametrize(("role", "status"), [("company_admin", 403), ("participant", 403), (None, 401)])
def test_the_edge_refuses_everyone_but_super_admins(mesh: Mesh, role: str | None, status: int) -> None:
    consumer = f"e2e-{uuid.uuid4().hex[:8]}"
    _dead_letter(mesh, consumer, "teei.events.e2e.operations.refused")
    with _client(mesh, role) as caller:
        assert caller.get(ADMIN).status_code == status
        assert caller.get(f"{ADMIN}/1").status_code == status
        assert caller.post(f"{ADMIN}/1:replay", json={}).status_code == status
        assert caller.post(f"{ADMIN}:purge", json={"confirm": True}).status_code == status
    with _client(mesh) as operator:
        assert len(_letters(operator, consumer)) == 1, "nothing was replayed or purged"


def test_teei_dlq_goes_through_the_edge_with_a_token(mesh: Mesh) -> None:
    consumer = f"e2e-{uuid.uuid4().hex[:8]}"
    event_id = _dead_letter(mesh, consumer, "teei.events.e2e.operations.cli")
    token = auth(mesh.var_dir, None, role="super_admin")["authorization"].removeprefix("Bearer ")
    env = {**os.environ, "TEEI_TOKEN": token}
    listed = _teei(env, "dlq", "--edge", mesh.edge_url, "list", "--consumer", consumer)
    assert [json.loads(line)["event_id"] for line in listed.splitlines()] == [event_id]
    purged = _teei(env, "dlq", "--edge", mesh.edge_url, "purge", "--yes", "--consumer", consumer)
    assert json.loads(purged) == {"purged": 1}


def _teei(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=spec.REPO_ROOT,
        env=env,
        timeout=60,
    )
    return result.stdout


def test_the_audit_log_through_the_edge_names_the_token_subject_and_scopes_company_admins(mesh: Mesh) -> None:
    """A purge through the edge is recorded with the token's subject whatever identity headers the caller
    adds; company admins list their company's records only; `teei audit verify` passes on the live mesh."""
    consumer = f"e2e-{uuid.uuid4().hex[:8]}"
    spoofed = {"x-user-id": "mallory", "x-actor": "mallory", "x-forwarded-user": "mallory"}
    with _client(mesh) as operator:
        purged = operator.post(f"{ADMIN}:purge", json={"confirm": True, "consumer": consumer}, headers=spoofed)
        assert purged.status_code == 200, purged.text
        listed = operator.get("/v1/audit/events", params={"action": "dead_letters.purged"})
        assert listed.status_code == 200, listed.text
        (event,) = [e for e in listed.json()["events"] if e["resource"] == f"dead_letters:{consumer}"]
        assert (event["actor"], event["actor_kind"]) == ("e2e-super_admin", "token")
        assert len(event["hash"]) == 64
    auth(mesh.var_dir, "globex", role="company_admin")  # minting records a globex token.minted event
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, "acme"), timeout=60.0) as admin:
        listed = admin.get("/v1/audit/events", params={"page_size": 500})
        assert listed.status_code == 200, listed.text
        assert {e["tenant"] for e in listed.json()["events"]} == {"acme"}
    with _client(mesh) as operator:
        everyone = operator.get("/v1/audit/events", params={"page_size": 500}).json()["events"]
        assert {"acme", "globex"} <= {e.get("tenant", "") for e in everyone}
    with _client(mesh, "participant") as participant:
        assert participant.get("/v1/audit/events").status_code == 403
    verified = _teei(dict(os.environ), "audit", "verify", "--var-dir", str(mesh.var_dir))
    assert verified.startswith("gateway: ok"), verified


def test_a_cross_tenant_privacy_read_through_the_edge_is_404_and_audited_under_its_request_id(mesh: Mesh) -> None:
    """Globex's admin asking for acme's privacy request through the edge gets the 404 of an unknown id; the
    gateway's audit log holds one denied record under the request id the edge returned, naming the token's
    subject, whatever identity headers the caller adds."""
    acme, globex = f"acme-{uuid.uuid4().hex[:8]}", f"globex-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, acme), timeout=60.0) as admin:
        asked = admin.post("/v1/privacy/subjects:export", json={"subject": {"email": "e2e@example.org"}, "reason": "r"})
        assert asked.status_code == 200, asked.text
        request_id = asked.json()["request"]["request_id"]
    headers = {**auth(mesh.var_dir, globex, subject="dpo-globex"), "x-user-id": "mallory"}
    with httpx.Client(base_url=mesh.edge_url, headers=headers, timeout=60.0) as other:
        refused = other.get(f"/v1/privacy/requests/{request_id}")
        unknown = other.get(f"/v1/privacy/requests/{uuid.uuid4()}")
    assert (refused.status_code, unknown.status_code) == (404, 404)
    assert refused.json()["message"] == unknown.json()["message"]
    with _client(mesh) as operator:
        listed = operator.get("/v1/audit/events", params={"action": "access.denied", "page_size": 500})
        assert listed.status_code == 200, listed.text
    (event,) = [e for e in listed.json()["events"] if e["resource"] == f"privacy_request:{request_id}"]
    assert (event["actor"], event["actor_kind"], event["tenant"], event["outcome"]) == (
        "dpo-globex",
        "token",
        acme,
        "denied",
    )
    assert event["request_id"] == refused.headers["x-request-id"]
    assert event["diff"]["after"]["caller_tenant"] == globex
