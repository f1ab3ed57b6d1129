"""Data-subject requests end to end over the mesh's own transport: the real gateway drives the real profile
and Kintell services over mTLS (its service token acting for the request's company), exports one
person's data as a bundle, erases it, keeps an erasure in progress while Kintell is down and completes it
once Kintell is back, and refuses to show one company's requests to another."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.api import httpbody_pb2
from google.protobuf import json_format

from services.cli import certs
from services.cli.spec import free_port
from services.gateway import bootstrap as gateway_bootstrap
from services.gateway.dsr import bundle
from services.kintell import bootstrap as kintell_bootstrap
from services.kit.config import ServiceConfig
from services.kit.grpc.server import GrpcServer
from services.kit.identity import profile_id_for_email
from services.kit.security import mtls
from services.kit.testing import ISSUER, bearer, tenant
from services.profile import bootstrap as profile_bootstrap
from teei.common.v1 import types_pb2
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from teei.operations.v1 import operations_pb2, operations_pb2_grpc
from teei.profile.v1 import profile_pb2_grpc
from tests.integration.profile.support import create_request
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row

ADA = "ada@example.org"
ACME_ADMIN = tenant("acme", role="company_admin", subject="dpo-acme")
GLOBEX_ADMIN = tenant("globex", role="company_admin", subject="dpo-globex")
OPERATOR = tenant("acme", role="super_admin", subject="op-1")
GLOBEX_OPERATOR = tenant("globex", role="super_admin", subject="op-2")
KEK = base64.b64encode(b"p" * 32).decode()
COMPLETED = gateway_pb2.PRIVACY_REQUEST_STATUS_COMPLETED
IN_PROGRESS = gateway_pb2.PRIVACY_REQUEST_STATUS_IN_PROGRESS


@dataclass
class Node:
    """One real service on a fixed loopback port over mTLS, so it can be stopped and started again."""

    name: str
    build: Callable[[ServiceConfig], Any]
    config: ServiceConfig
    server: GrpcServer | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.config.grpc_port}"

    async def start(self) -> None:
        self.server = GrpcServer(replace(self.build(self.config), jwks=ISSUER.jwks))
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


@dataclass
class Mesh:
    """The gateway, profile and Kintell, and typed stubs reaching them as the edge does."""

    cert_dir: Path
    nodes: dict[str, Node]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def stub(self, name: str, module: ModuleType, service: str) -> Any:
        channel = grpc.aio.secure_channel(self.nodes[name].address, mtls.channel_credentials(self.cert_dir, "edge"))
        self.channels.append(channel)
        return getattr(module, f"{service}Stub")(channel)

    @property
    def gateway(self) -> gateway_pb2_grpc.GatewayServiceAsyncStub:
        stub: gateway_pb2_grpc.GatewayServiceAsyncStub = self.stub("gateway", gateway_pb2_grpc, "GatewayService")
        return stub


def _config(tmp_path: Path, name: str, cert_dir: Path) -> ServiceConfig:
    return ServiceConfig(
        grpc_host="127.0.0.1", grpc_port=free_port(), var_dir=tmp_path / name, shutdown_grace_seconds=1.0,
        mtls_dir=cert_dir,
    )  # fmt: skip


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[Mesh]:
    cert_dir = tmp_path / "mtls"
    certs.init_ca(cert_dir)
    for name in ("gateway", "profile", "kintell", "edge"):
        certs.issue(cert_dir, name)
    profile = Node("profile", profile_bootstrap.build, _config(tmp_path, "profile", cert_dir))
    kintell = Node("kintell", kintell_bootstrap.build, _config(tmp_path, "kintell", cert_dir))
    environ = {
        "TEEI_KEY_ENCRYPTION_KEY": KEK,
        "TEEI_PRIVACY_SERVICES": f"profile={profile.address},kintell={kintell.address}",
        "TEEI_PRIVACY_POLL_SECONDS": "0.05",
        "TEEI_PRIVACY_RETRY_SECONDS": "0.05",
        "TEEI_PRIVACY_RETRY_MAX_SECONDS": "0.2",
    }
    gateway = Node(
        "gateway", lambda c: gateway_bootstrap.build(c, environ=environ), _config(tmp_path, "gateway", cert_dir)
    )
    nodes = {"profile": profile, "kintell": kintell, "gateway": gateway}
    running = Mesh(cert_dir, nodes)
    for node in nodes.values():
        await node.start()
    try:
        await _seed(running)
        yield running
    finally:
        for channel in running.channels:
            await channel.close()
        for node in nodes.values():
            await node.stop()


async def _seed(mesh: Mesh) -> None:
    """Ada and Bo at acme, and another Ada at globex, in both profile and Kintell."""
    profiles = mesh.stub("profile", profile_pb2_grpc, "ProfileService")
    for email, metadata in ((ADA, OPERATOR), ("bo@example.org", OPERATOR), (ADA, GLOBEX_OPERATOR)):
        await profiles.CreateProfile(create_request(email), metadata=metadata)
    kintell = mesh.stub("kintell", kintell_pb2_grpc, "KintellService")
    for metadata, rows in (
        (OPERATOR, [("k-1", ADA), ("k-2", ADA), ("k-3", "bo@example.org")]),
        (GLOBEX_OPERATOR, [("g-1", ADA)]),
    ):
        data = csv(
            LANGUAGE_V1_0, *(language_row(i, participant_email=e, volunteer_email="vol@corp.com") for i, e in rows)
        )
        body = httpbody_pb2.HttpBody(content_type="text/csv", data=data)
        await kintell.ImportSessions(kintell_pb2.ImportSessionsRequest(body=body), metadata=metadata)


async def _eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 45.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)  # polling interval of a bounded wait


async def _settled(mesh: Mesh, request_id: str) -> gateway_pb2.GetPrivacyRequestResponse:
    gateway = mesh.gateway
    answer = gateway_pb2.GetPrivacyRequestResponse()

    async def done() -> bool:
        nonlocal answer
        answer = await gateway.GetPrivacyRequest(
            gateway_pb2.GetPrivacyRequestRequest(request_id=request_id), metadata=ACME_ADMIN
        )
        return answer.request.status in (COMPLETED, gateway_pb2.PRIVACY_REQUEST_STATUS_FAILED)

    await _eventually(done)
    return answer


def _subject() -> types_pb2.DataSubject:
    return types_pb2.DataSubject(email=ADA)


async def _kintell_sessions(mesh: Mesh, metadata: Any) -> list[str]:
    kintell = mesh.stub("kintell", kintell_pb2_grpc, "KintellService")
    answer = await kintell.ExportSubjectData(
        kintell_pb2.ExportSubjectDataRequest(subject=_subject()), metadata=metadata
    )
    records = json_format.MessageToDict(answer.records)
    return sorted(r["external_session_id"] for r in records.get("kintell_sessions", []))


async def test_export_bundle_then_erasure_across_real_services(mesh: Mesh) -> None:
    gateway = mesh.gateway
    asked = await gateway.ExportSubjectData(
        gateway_pb2.ExportSubjectDataRequest(subject=_subject(), reason="DSR-2026-1"), metadata=ACME_ADMIN
    )
    assert asked.request.due_time.seconds - asked.request.create_time.seconds == 30 * 24 * 3600
    answer = await _settled(mesh, asked.request.request_id)
    assert answer.request.status == COMPLETED
    exported = json_format.MessageToDict(answer.bundle)
    assert bundle.verify(exported) == []
    assert sorted(exported["sections"]) == ["gateway", "kintell", "profile"]
    sessions = sorted(r["external_session_id"] for r in exported["sections"]["kintell"]["kintell_sessions"])
    assert sessions == ["k-1", "k-2"]  # nothing of Bo, nothing of globex's Ada
    assert "bo@example.org" not in str(exported)
    assert [p["email"] for p in exported["sections"]["profile"]["profiles"]] == [ADA]

    erase = await gateway.DeleteSubjectData(
        gateway_pb2.DeleteSubjectDataRequest(subject=_subject(), reason="DSR-2026-1", confirm=True), metadata=ACME_ADMIN
    )
    erased = await _settled(mesh, erase.request.request_id)
    assert erased.request.status == COMPLETED
    parts = {o.service: o for o in erased.request.outcomes}
    assert (parts["kintell"].records_found, parts["kintell"].status) == (2, COMPLETED)
    assert parts["profile"].records_found >= 1
    assert erased.request.subject.email == ""  # forgotten once erased
    assert await _kintell_sessions(mesh, OPERATOR) == []
    assert await _kintell_sessions(mesh, GLOBEX_OPERATOR) == ["g-1"]  # another company's Ada is untouched
    stored = b"".join(p.read_bytes() for p in mesh.nodes["gateway"].config.var_dir.glob("gateway.db*"))
    assert stored
    assert ADA.encode() not in stored  # neither the requests nor the earlier export's bundle keep her e-mail


async def test_a_service_down_during_erasure_keeps_it_in_progress_until_it_is_back(mesh: Mesh) -> None:
    await mesh.nodes["kintell"].stop()
    gateway = mesh.gateway
    erase = await gateway.DeleteSubjectData(
        gateway_pb2.DeleteSubjectDataRequest(subject=_subject(), reason="DSR-2", confirm=True), metadata=ACME_ADMIN
    )
    request_id = erase.request.request_id
    get = gateway_pb2.GetPrivacyRequestRequest(request_id=request_id)

    async def kintell_tried_twice() -> bool:
        request = (await gateway.GetPrivacyRequest(get, metadata=ACME_ADMIN)).request
        assert request.status != COMPLETED, "completed while Kintell had not confirmed"
        return {o.service: o.attempts for o in request.outcomes}["kintell"] >= 2

    await _eventually(kintell_tried_twice)
    waiting = (await gateway.GetPrivacyRequest(get, metadata=ACME_ADMIN)).request
    parts = {o.service: o for o in waiting.outcomes}
    assert waiting.status == IN_PROGRESS
    assert parts["profile"].status == COMPLETED
    assert parts["kintell"].status == IN_PROGRESS
    assert parts["gateway"].attempts == 0
    await mesh.nodes["kintell"].start()
    done = await _settled(mesh, request_id)
    assert done.request.status == COMPLETED
    assert await _kintell_sessions(mesh, OPERATOR) == []


async def test_another_company_never_sees_a_request_and_roles_are_enforced(mesh: Mesh) -> None:
    gateway = mesh.gateway
    asked = await gateway.ExportSubjectData(
        gateway_pb2.ExportSubjectDataRequest(subject=_subject(), reason="DSR-3"), metadata=ACME_ADMIN
    )
    get = gateway_pb2.GetPrivacyRequestRequest(request_id=asked.request.request_id)
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await gateway.GetPrivacyRequest(get, metadata=GLOBEX_ADMIN)
    assert foreign.value.code() is grpc.StatusCode.NOT_FOUND
    listed = await gateway.ListPrivacyRequests(gateway_pb2.ListPrivacyRequestsRequest(), metadata=GLOBEX_ADMIN)
    assert list(listed.requests) == []
    ours = await gateway.ListPrivacyRequests(gateway_pb2.ListPrivacyRequestsRequest(), metadata=ACME_ADMIN)
    assert [r.request_id for r in ours.requests] == [asked.request.request_id]
    participant = tenant("acme", role="participant", subject="ada-1")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await gateway.ExportSubjectData(
            gateway_pb2.ExportSubjectDataRequest(subject=_subject(), reason="x"), metadata=participant
        )
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def _denials(mesh: Mesh) -> list[operations_pb2.AuditEvent]:
    operations = mesh.stub("gateway", operations_pb2_grpc, "OperationsService")
    listing = operations_pb2.ListAuditEventsRequest(action="access.denied", page_size=500)
    return list((await operations.ListAuditEvents(listing, metadata=OPERATOR)).events)


async def test_cross_tenant_and_role_refusals_are_audited_once_each_naming_the_caller(mesh: Mesh) -> None:
    """Globex's admin reading acme's request (twice), a participant filing a subject request, and a platform
    token naming no company: each refused, and each leaves one denied record in the gateway's audit log with
    the validated caller (whatever headers say), the company, the action and the resource."""
    gateway = mesh.gateway
    asked = await gateway.ExportSubjectData(
        gateway_pb2.ExportSubjectDataRequest(subject=_subject(), reason="DSR-5"), metadata=ACME_ADMIN
    )
    request_id = asked.request.request_id
    get = gateway_pb2.GetPrivacyRequestRequest(request_id=request_id)
    for attempt in ("x-1", "x-2"):
        spoofed = (*GLOBEX_ADMIN, ("x-request-id", f"cross-{attempt}"), ("x-user-id", "someone-else"))
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await gateway.GetPrivacyRequest(get, metadata=spoofed)
        assert foreign.value.code() is grpc.StatusCode.NOT_FOUND
        assert foreign.value.details() == "no such privacy request"  # as for an id that does not exist
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await gateway.GetPrivacyRequest(
            gateway_pb2.GetPrivacyRequestRequest(request_id="00000000-0000-4000-8000-000000000000"),
            metadata=GLOBEX_ADMIN,
        )
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    participant = tenant("acme", role="participant", subject="ada-1")
    platform = bearer(ISSUER.sign(ISSUER.claims(role="super_admin", tenant=None, subject="op-9")))  # no company
    ask = gateway_pb2.ExportSubjectDataRequest(subject=_subject(), reason="x")
    for metadata in (participant, platform):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await gateway.ExportSubjectData(ask, metadata=metadata)
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED

    events = {(e.actor, e.resource): e for e in await _denials(mesh)}
    export_rpc = "rpc:/teei.gateway.v1.GatewayService/ExportSubjectData"
    assert sorted(events) == [
        ("ada-1", export_rpc),
        ("dpo-globex", f"privacy_request:{request_id}"),
        ("op-9", export_rpc),
    ]  # one record per refusal: the repeated read is counted, the unknown id is no refusal
    foreign_read = events[("dpo-globex", f"privacy_request:{request_id}")]
    assert (foreign_read.actor_kind, foreign_read.tenant, foreign_read.outcome) == ("token", "acme", "denied")
    assert foreign_read.request_id == "cross-x-1"
    after = json_format.MessageToDict(foreign_read.diff)["after"]
    assert after["caller_tenant"] == "globex"
    assert (after["rpc"], after["answered"], after["count"]) == (
        "/teei.gateway.v1.GatewayService/GetPrivacyRequest", "NOT_FOUND", 1,
    )  # fmt: skip
    role = events[("ada-1", export_rpc)]
    assert (role.tenant, json_format.MessageToDict(role.diff)["after"]["message"]) == (
        "acme", "role participant lacks PERMISSION_DATA_EXPORT",
    )  # fmt: skip
    no_company = events[("op-9", export_rpc)]
    assert (no_company.tenant, json_format.MessageToDict(no_company.diff)["after"]["reason"]) == (
        "",
        "PERMISSION_DENIED",
    )


async def test_a_request_naming_another_companys_person_finds_nothing_of_theirs(mesh: Mesh) -> None:
    """The company of a request is the token's: acme naming globex's Ada by her profile id reaches nothing at
    globex, since every service scopes the subject to acme."""
    globex_ada = types_pb2.DataSubject(profile_id=profile_id_for_email("globex", ADA))
    asked = await mesh.gateway.ExportSubjectData(
        gateway_pb2.ExportSubjectDataRequest(subject=globex_ada, reason="DSR-6"), metadata=ACME_ADMIN
    )
    done = await _settled(mesh, asked.request.request_id)
    assert done.request.company_id == "acme"
    assert [o.records_found for o in done.request.outcomes] == [0, 0, 0]
    assert await _kintell_sessions(mesh, GLOBEX_OPERATOR) == ["g-1"]


async def test_a_participant_exports_only_their_own_data_and_polls_it_by_request_id(mesh: Mesh) -> None:
    gateway = mesh.gateway
    claims = {**ISSUER.claims(role="participant", tenant="acme", subject="bo-1"), "email": "bo@example.org"}
    bo = bearer(ISSUER.sign(claims))
    ask = gateway_pb2.ExportOwnDataRequest(request_id="bo-export-1")
    first = await gateway.ExportOwnData(ask, metadata=bo)
    assert first.request.subject.email == "bo@example.org"

    async def ready() -> bool:
        again = await gateway.ExportOwnData(ask, metadata=bo)
        assert again.request.request_id == first.request.request_id  # the same request, never a second one
        return again.request.status == COMPLETED

    await _eventually(ready)
    done = await gateway.ExportOwnData(ask, metadata=bo)
    exported = json_format.MessageToDict(done.bundle)
    assert sorted(r["external_session_id"] for r in exported["sections"]["kintell"]["kintell_sessions"]) == ["k-3"]
    assert ADA not in str(exported)
    assert sorted(e.service for e in done.exports) == ["gateway", "kintell", "profile"]


async def test_a_participant_erases_only_their_own_data(mesh: Mesh) -> None:
    gateway = mesh.gateway
    claims = {**ISSUER.claims(role="participant", tenant="acme", subject="bo-1"), "email": "bo@example.org"}
    bo = bearer(ISSUER.sign(claims))
    with pytest.raises(grpc.aio.AioRpcError) as unconfirmed:
        await gateway.DeleteOwnData(gateway_pb2.DeleteOwnDataRequest(), metadata=bo)
    assert unconfirmed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    asked = await gateway.DeleteOwnData(
        gateway_pb2.DeleteOwnDataRequest(confirm=True, request_id="bo-erase"), metadata=bo
    )
    assert asked.request.subject.email == "bo@example.org"
    done = await _settled(mesh, asked.request.request_id)
    assert done.request.status == COMPLETED
    assert await _kintell_sessions(mesh, OPERATOR) == ["k-1", "k-2"]  # Ada's sessions stay
    kintell = mesh.stub("kintell", kintell_pb2_grpc, "KintellService")
    bo_subject = types_pb2.DataSubject(email="bo@example.org")
    left = await kintell.ExportSubjectData(kintell_pb2.ExportSubjectDataRequest(subject=bo_subject), metadata=OPERATOR)
    assert json_format.MessageToDict(left.records).get("kintell_sessions", []) == []


async def test_an_erasure_resumes_after_a_gateway_restart(mesh: Mesh) -> None:
    """The request's state is in the gateway's database: a new gateway process finishes what the old one began."""
    await mesh.nodes["kintell"].stop()
    erase = await mesh.gateway.DeleteSubjectData(
        gateway_pb2.DeleteSubjectDataRequest(subject=_subject(), reason="DSR-4", confirm=True), metadata=ACME_ADMIN
    )
    get = gateway_pb2.GetPrivacyRequestRequest(request_id=erase.request.request_id)

    async def kintell_tried() -> bool:
        request = (await mesh.gateway.GetPrivacyRequest(get, metadata=ACME_ADMIN)).request
        return {o.service: o.attempts for o in request.outcomes}["kintell"] >= 1

    await _eventually(kintell_tried)
    await mesh.nodes["gateway"].stop()
    await mesh.nodes["kintell"].start()
    await mesh.nodes["gateway"].start()
    done = await _settled(mesh, erase.request.request_id)
    assert done.request.status == COMPLETED
    assert await _kintell_sessions(mesh, OPERATOR) == []
