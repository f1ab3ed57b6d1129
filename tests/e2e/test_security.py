"""Security through the edge of the running mesh: tenant isolation by every path (REST, native
gRPC, event-triggered), forged identity headers, roles, and key rotation under continuous traffic.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from nats.js.api import DeliverPolicy

from services.cli import spec
from services.cli.launcher import Mesh
from services.kit.messaging import events
from services.kit.security import mtls
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2 as profile_events_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.e2e.conftest import auth, mint
from tests.e2e.test_flows import KINTELL_HEADER, counters_reach, eventually, profile_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """Its own mesh: the rotation test below changes the mesh's signing keys."""
    resources = spec.with_free_ports(spec.load())
    running = Mesh(resources=resources, var_dir=tmp_path_factory.mktemp("secure") / "var", health_interval_ms=200)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _company() -> str:
    return f"co-{uuid.uuid4().hex[:10]}"


def _client(mesh: Mesh, company: str, role: str = "company_admin") -> httpx.Client:
    return httpx.Client(base_url=mesh.edge_url, headers=auth(mesh.var_dir, company, role=role), timeout=60.0)


def _create(client: httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/v1/profiles", json={"email": email})
    assert response.status_code == 200, response.text
    profile: dict[str, str] = response.json()["profile"]
    return profile


def test_tenant_a_cannot_read_list_change_or_export_tenant_bs_data_over_rest(mesh: Mesh) -> None:
    a, b = _company(), _company()
    with _client(mesh, a) as alice, _client(mesh, b) as bob:
        theirs = _create(bob, "bea@example.org")
        batch = bob.post(
            "/v1/kintell/imports",
            content=f"{KINTELL_HEADER}\r\nk-1,bea@example.org,vic@example.org,2026-03-01,,,,,,\r\n".encode(),
            headers={"content-type": "text/csv"},
        ).json()["batch"]
        path = f"/v1/profiles/{theirs['profile_id']}"
        assert alice.get(path).status_code == 404
        assert alice.get("/v1/profiles", params={"email": "bea@example.org"}).json().get("profiles", []) == []
        link = {"external_id": {"provider": "IDENTITY_PROVIDER_KINTELL", "external_id": "x-1"}}
        assert alice.post(f"{path}/external-ids", json=link).status_code == 404
        assert alice.get(f"/v1/kintell/imports/{batch['batch_id']}").status_code == 404
        assert alice.get(f"/v1/kintell/imports/{batch['batch_id']}/errors").status_code == 404
        assert alice.get("/v1/kintell/sessions").json().get("sessions", []) == []
        # Bob's data is intact and still his.
        assert bob.get(path).json()["profile"]["external_ids"] == theirs.get("external_ids", [])


def test_tenant_a_cannot_read_tenant_bs_data_over_native_grpc_through_the_edge(mesh: Mesh) -> None:
    b = _company()
    with _client(mesh, b) as bob:
        theirs = _create(bob, "gus@example.org")
    with grpc.insecure_channel(mesh.edge_url.removeprefix("http://")) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        request = profile_pb2.GetProfileRequest(profile_id=theirs["profile_id"])
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetProfile(request, metadata=tuple(auth(mesh.var_dir, _company()).items()), timeout=30)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert stub.GetProfile(request, metadata=tuple(auth(mesh.var_dir, b).items()), timeout=30).profile.email


def test_an_import_by_one_company_never_touches_another_companys_profiles(mesh: Mesh) -> None:
    """Event-triggered path: the same person known to two companies stays two people."""
    a, b = _company(), _company()
    with _client(mesh, a) as alice, _client(mesh, b) as bob:
        theirs = _create(bob, "sam@example.org")
        rows = "k-7,sam@example.org,vic@example.org,2026-03-01,2026-03-01T11:00:00Z,60,0.9,,B1,"
        response = alice.post(
            "/v1/kintell/imports",
            content=f"{KINTELL_HEADER}\r\n{rows}\r\n".encode(),
            headers={"content-type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        ours = eventually(lambda: counters_reach(alice, "sam@example.org", {"language_sessions_completed": 1}))
        assert ours["profile_id"] != theirs["profile_id"]
        untouched = profile_of(bob, "sam@example.org")
        assert untouched is not None
        assert untouched["profile_id"] == theirs["profile_id"]
        assert not untouched.get("counters")
        assert not untouched.get("enrolments")


def test_forged_identity_headers_do_not_change_who_the_caller_is(mesh: Mesh) -> None:
    b = _company()
    with _client(mesh, b) as bob:
        theirs = _create(bob, "ida@example.org")
    forged = {
        **auth(mesh.var_dir, _company()),
        "x-tenant-id": b,
        "x-jwt-payload": "eyJjb21wYW55IjoiYiIsInJvbGUiOiJzdXBlcl9hZG1pbiJ9",
        "x-teei-principal": f"company:{b}",
    }
    response = httpx.get(f"{mesh.edge_url}/v1/profiles/{theirs['profile_id']}", headers=forged, timeout=30)
    assert response.status_code == 404
    no_token = {k: v for k, v in forged.items() if k != "authorization"}
    assert httpx.get(f"{mesh.edge_url}/v1/profiles", headers=no_token, timeout=30).status_code == 401


FORGED_PRINCIPAL = {"x-teei-principal": "user:mallory", "x-jwt-payload": "eyJzdWIiOiJtYWxsb3J5In0"}


def _merged_event(mesh: Mesh, company: str) -> profile_events_pb2.ProfilesMerged:
    """The `profile.profiles.merged` event of `company`, read from JetStream as a consumer sees it."""

    async def read() -> profile_events_pb2.ProfilesMerged:
        nc = await nats.connect(f"nats://127.0.0.1:{mesh.resource('nats').port}", connect_timeout=5)
        try:
            subject = events.nats_subject("profile.profiles.merged")
            sub = await nc.jetstream().subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
            while True:
                envelope = envelope_pb2.Envelope.FromString((await sub.next_msg(timeout=60)).data)
                if envelope.tenant == company:
                    merged = profile_events_pb2.ProfilesMerged()
                    envelope.data.Unpack(merged)
                    return merged
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_profile_merge_through_the_edge_records_the_tokens_subject_as_actor(mesh: Mesh) -> None:
    company, subject = _company(), f"admin-{uuid.uuid4().hex[:8]}"
    headers = {**auth(mesh.var_dir, company, subject=subject), **FORGED_PRINCIPAL}
    with httpx.Client(base_url=mesh.edge_url, headers=headers, timeout=60.0) as admin:
        keep, duplicate = _create(admin, "ola@example.org"), _create(admin, "ola.n@example.org")
        merged = admin.post(
            f"/v1/profiles/{keep['profile_id']}:merge",
            json={"duplicate_profile_id": duplicate["profile_id"], "reason": "same person"},
        )
        assert merged.status_code == 200, merged.text
    event = _merged_event(mesh, company)
    assert (event.profile_id, event.duplicate_profile_id) == (keep["profile_id"], duplicate["profile_id"])
    assert event.actor == subject


def test_a_review_decision_through_the_edge_records_the_tokens_subject_as_reviewer(mesh: Mesh) -> None:
    company, subject = _company(), f"reviewer-{uuid.uuid4().hex[:8]}"
    headers = {**auth(mesh.var_dir, company, subject=subject), **FORGED_PRINCIPAL}
    with httpx.Client(base_url=mesh.edge_url, headers=headers, timeout=60.0) as reviewer:
        screened = reviewer.post("/v1/safety/screen", json={"text": "you are such an idiot"})
        assert screened.status_code == 200, screened.text
        review_id = screened.json()["summary"]["review_id"]
        decided = reviewer.post(
            f"/v1/safety/reviews/{review_id}:decide", json={"decision": "REVIEW_DECISION_APPROVE", "notes": "ok"}
        )
        assert decided.status_code == 200, decided.text
        review = reviewer.get(f"/v1/safety/reviews/{review_id}").json()["review"]
    assert review["reviewer"] == subject
    assert [action["reviewer"] for action in review["history"]] == [subject]


@pytest.mark.parametrize(("role", "status"), [("company_admin", 200), ("company_user", 403), ("participant", 403)])
def test_a_role_without_the_permission_is_403(mesh: Mesh, role: str, status: int) -> None:
    with _client(mesh, _company(), role=role) as client:
        assert client.get("/v1/profiles").status_code == status


def test_key_rotation_under_continuous_traffic_rejects_no_valid_token(mesh: Mesh) -> None:
    """Tokens signed before, during and after `teei keys rotate` are all accepted at the edge."""
    company = _company()
    with _client(mesh, company) as admin:
        profile = _create(admin, "rot@example.org")
    path = f"{mesh.edge_url}/v1/profiles/{profile['profile_id']}"
    before = mint(mesh.var_dir, company)
    outcomes: Counter[int] = Counter()
    rotated = threading.Event()
    stop = threading.Event()

    def traffic(fresh_tokens: bool) -> None:
        with httpx.Client(timeout=30.0) as client:
            after_rotation = 0
            while not stop.is_set():
                token = mint(mesh.var_dir, company) if fresh_tokens else before
                outcomes[client.get(path, headers={"authorization": f"Bearer {token}"}).status_code] += 1
                if rotated.is_set():
                    after_rotation += 1
                    if after_rotation >= 20:
                        return

    workers = [threading.Thread(target=traffic, args=(fresh,)) for fresh in (False, True)]
    for worker in workers:
        worker.start()
    try:
        eventually(lambda: sum(outcomes.values()) >= 20, timeout=60)
        rotate = [sys.executable, "-m", "services.cli", "keys", "rotate", "--force", "--var-dir", str(mesh.var_dir)]
        subprocess.run(rotate, cwd=spec.REPO_ROOT, check=True, capture_output=True, timeout=120)
        rotated.set()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    after = mint(mesh.var_dir, company)
    assert httpx.get(path, headers={"authorization": f"Bearer {after}"}, timeout=30).status_code == 200
    assert httpx.get(path, headers={"authorization": f"Bearer {before}"}, timeout=30).status_code == 200
    print(f"requests during the rotation test: {dict(outcomes)}")
    assert set(outcomes) == {200}, f"every request with a valid token succeeds: {dict(outcomes)}"
    assert outcomes[200] >= 60


def test_a_service_refuses_a_caller_without_a_mesh_certificate(mesh: Mesh) -> None:
    assert mesh.mtls_dir is not None
    ca = mtls.ca_cert_path(mesh.mtls_dir).read_bytes()
    target = f"127.0.0.1:{mesh.resource('profile').port}"
    with grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca)) as channel:
        stub = profile_pb2_grpc.ProfileServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=tuple(auth(mesh.var_dir).items()), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_secrets_and_tokens_never_reach_the_logs(mesh: Mesh) -> None:
    token = mint(mesh.var_dir, _company())
    httpx.get(f"{mesh.edge_url}/v1/profiles", headers={"authorization": f"Bearer {token}"}, timeout=30)
    httpx.get(f"{mesh.edge_url}/v1/profiles", headers={"authorization": f"Bearer {token}x"}, timeout=30)
    signature = token.rsplit(".", 1)[1]
    for log in Path(mesh.var_dir / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        assert signature not in text, f"{log.name} holds a token"
        assert "whsec_" not in text, f"{log.name} holds a webhook secret"
        assert "BEGIN PRIVATE KEY" not in text
        assert "BEGIN EC PRIVATE KEY" not in text
