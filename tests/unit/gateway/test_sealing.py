"""The gateway's personal fields at rest: after export and erasure requests driven by the privacy worker,
neither the subject's e-mail (in their requests, or in a machine client registered for them) nor anything
of their export bundle is in the database files in plain text; listing, status, bundle download and the
client list still show plain values; a copy of the database taken before an erasure cannot open the
erased person's e-mail or bundle after it; and the online migration seals (and unseals) rows written
before sealing while reads go on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.gateway import bootstrap, handlers, queries, sealing
from services.gateway.bootstrap import Gateway
from services.gateway.domain import privacy as dsr
from services.gateway.domain.clients import Client
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.domain.errors import PrivacyBundleExpired
from services.gateway.dsr import bundle
from services.gateway.dsr.worker import PrivacyWorker
from services.gateway.repository import SqlGatewayUnitOfWork
from services.gateway.tables import oauth_clients, privacy_requests, privacy_sections
from services.kit.persistence import db
from services.kit.security import pii
from tests import sealed_db
from tests.unit.gateway.conftest import FakeClock
from tests.unit.gateway.privacy.test_worker import Service

ADA, BOB = "pialotta.lindqvist@example.org", "bartholomew@example.org"
MARKER = "marker-7q3zk-inside-the-bundle"
# What the services hold of each person: their e-mail, name and a marker only their export bundle carries.
NEEDLES = [ADA, "pialotta", "lindqvist", MARKER, BOB, "bartholomew"]
ADMIN = queries.Viewer("acme", "admin-1", sees_company=True)


def _services() -> dict[str, Service]:
    person: dict[str, object] = {"email": ADA, "given_name": "Pialotta", "family_name": "Lindqvist"}
    return {
        "profile": Service("profile", {"profiles": [person]}),
        "kintell": Service("kintell", {"kintell_sessions": [{"session_id": "s1", "feedback_text": MARKER}]}),
    }


async def _request(
    gateway: Gateway, clock: FakeClock, kind: str, email: str, *, profile_id: str = ""
) -> dsr.PrivacyRequest:
    """A request received and driven by the worker until it settles."""
    services = _services()
    if email == BOB:
        services["profile"].records = {"profiles": [{"email": BOB, "given_name": "Bartholomew"}]}
    worker = PrivacyWorker(uow=gateway.uow, services=services, clock=clock)
    command = ReceivePrivacyRequest(
        kind=kind,
        company_id="acme",
        requested_by="admin-1",
        email=email,
        profile_id=profile_id,
        reason="DSR-9",
        confirm=True,
    )
    request, _ = handlers.receive_privacy_request(command, services=worker.service_names, uow=gateway.uow, clock=clock)
    assert await worker.run_once() == 1
    clock.advance(1)
    return request


def _client(gateway: Gateway, clock: FakeClock, email: str) -> None:
    """A machine client registered for the person of `email`."""
    client = Client(f"hris-{email[:4]}", "acme", "integration", frozenset(), "$argon2id$x", clock(), email=email)
    with gateway.uow.begin() as repo:
        repo.clients.add(client)


def _get(uow: SqlGatewayUnitOfWork, request_id: str) -> tuple[dsr.PrivacyRequest, dict[str, object] | None]:
    return queries.get_privacy_request(request_id, ADMIN, uow=uow)


def _listed(uow: SqlGatewayUnitOfWork) -> list[tuple[str, str, str]]:
    views = queries.list_privacy_requests(ADMIN, kind=None, status=None, after=None, limit=20, uow=uow)
    return [(v.request.kind.value, v.request.subject.email, v.request.status.value) for v in views]


async def test_the_database_files_hold_no_e_mail_name_or_bundle_content_in_plain_text(
    gateway: Gateway, clock: FakeClock
) -> None:
    _client(gateway, clock, ADA)
    await _request(gateway, clock, "export", ADA)
    await _request(gateway, clock, "export", BOB)
    path = Path(str(gateway.engine.url.database))
    live = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).lower()
    assert [n for n in NEEDLES if n.encode() in live] == []  # the write-ahead log, before any checkpoint
    raw = sealed_db.file_bytes(gateway.engine).lower()
    assert [n for n in NEEDLES if n.encode() in raw] == []
    assert b"acme" in raw
    assert b"dsr-9" in raw  # the reason is the controller's reference, kept plain


async def test_list_status_and_download_show_plain_values(gateway: Gateway, clock: FakeClock) -> None:
    _client(gateway, clock, ADA)
    ada = await _request(gateway, clock, "export", ADA)
    await _request(gateway, clock, "export", BOB)
    assert _listed(gateway.uow) == [("export", BOB, "completed"), ("export", ADA, "completed")]
    done, exported = _get(gateway.uow, ada.request_id)
    assert done.subject.email == ADA
    assert exported is not None
    assert exported["manifest"]["subject"] == {"profile_id": ada.subject.profile_id, "email": ADA}  # type: ignore[index]
    sections = exported["sections"]
    assert sections["kintell"]["kintell_sessions"][0]["feedback_text"] == MARKER  # type: ignore[index]
    assert sections["profile"]["profiles"][0]["family_name"] == "Lindqvist"  # type: ignore[index]
    [client] = sections["gateway"]["oauth_clients"]  # type: ignore[index]
    assert (client["client_id"], client["email"], "email_index" in client) == ("hris-pial", ADA, False)
    assert bundle.verify(exported) == []
    assert [c.email for c in queries.list_clients("acme", uow=gateway.uow)] == [ADA]
    with gateway.engine.connect() as connection:
        stored = connection.execute(
            sa.select(privacy_requests.c.subject_email, privacy_requests.c.subject_email_index)
        ).all()
        bodies = connection.execute(sa.select(privacy_sections.c.body)).scalars().all()
    assert all(pii.is_sealed(email) and len(index) == 64 for email, index in stored)
    assert len(bodies) == 6
    assert all(bytes(body).startswith(b"pii1.") for body in bodies)
    with gateway.engine.connect() as connection:
        email, index = connection.execute(sa.select(oauth_clients.c.email, oauth_clients.c.email_index)).one()
    assert pii.is_sealed(email)
    assert index == sealing.email_index(gateway.cipher, "acme", ADA)  # type: ignore[arg-type]


async def test_an_erasure_keeps_the_request_as_proof_without_the_e_mail_and_drops_the_bundles(
    gateway: Gateway, clock: FakeClock, tmp_path: Path
) -> None:
    _client(gateway, clock, ADA)
    exported = await _request(gateway, clock, "export", ADA)
    other = await _request(gateway, clock, "export", BOB)
    backup = tmp_path / "before-erasure.db"
    with sqlite3.connect(str(gateway.engine.url.database)) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    erased = await _request(gateway, clock, "erasure", ADA)
    proof, _ = _get(gateway.uow, erased.request_id)
    assert proof.status is dsr.RequestStatus.COMPLETED
    assert (proof.subject.profile_id, proof.subject.email) == (erased.subject.profile_id, "")
    with gateway.engine.connect() as connection:
        index = connection.execute(
            sa.select(privacy_requests.c.subject_email_index).where(privacy_requests.c.request_id == erased.request_id)
        ).scalar_one()
    assert index == sealing.email_index(gateway.cipher, "acme", ADA)  # type: ignore[arg-type]
    with pytest.raises(PrivacyBundleExpired):
        _get(gateway.uow, exported.request_id)
    assert _get(gateway.uow, other.request_id)[0].subject.email == BOB
    assert [(c.client_id, c.email) for c in queries.list_clients("acme", uow=gateway.uow)] == [("hris-pial", None)]

    restored = db.create_engine(db.sqlite_url(backup))
    assert gateway.cipher is not None
    pii.attach(restored, gateway.cipher)
    try:
        with restored.connect() as connection:
            row = (
                connection.execute(
                    sa.select(privacy_requests).where(privacy_requests.c.request_id == exported.request_id)
                )
                .mappings()
                .one()
            )
            sections = (
                connection.execute(
                    sa.select(privacy_sections).where(privacy_sections.c.request_id == exported.request_id)
                )
                .mappings()
                .all()
            )
            client = connection.execute(sa.select(oauth_clients)).mappings().one()
        with pytest.raises(pii.SubjectErased):
            gateway.cipher.open(client["email"], field="oauth_clients.email", record=client["client_id"])
        with pytest.raises(pii.SubjectErased):
            gateway.cipher.open(row["subject_email"], field=sealing.EMAIL_FIELD, record=row["request_id"])
        assert len(sections) == 3
        for section in sections:
            with pytest.raises(pii.SubjectErased):
                sealing.opened_body(gateway.cipher, section)
        old = SqlGatewayUnitOfWork(db.UnitOfWork(restored))
        with pytest.raises(PrivacyBundleExpired, match="no longer kept"):
            _get(old, exported.request_id)
        still, kept = _get(old, other.request_id)
        assert kept is not None  # the other person's bundle still opens
        assert still.subject.email == BOB
        assert ("export", "", "completed") in _listed(old)
        assert [c.email for c in queries.list_clients("acme", uow=old)] == [None]
    finally:
        restored.dispose()


def _unsealed(gateway: Gateway) -> None:
    """Rows as the gateway wrote them before sealing: plain values."""
    assert gateway.cipher is not None
    with db.UnitOfWork(gateway.engine).begin() as session:
        while sealing.unseal_batch(session, gateway.cipher):
            pass


def _read_back(gateway: Gateway, request_ids: list[str]) -> tuple[list[tuple[str, object]], list[str | None]]:
    got = []
    for request_id in request_ids:
        request, exported = _get(gateway.uow, request_id)
        assert exported is not None
        got.append((request.subject.email, exported["sections"]))
    assert len(_listed(gateway.uow)) == len(request_ids)
    return got, [c.email for c in queries.list_clients("acme", uow=gateway.uow)]


async def test_the_online_migration_seals_old_rows_while_reads_go_on_and_unsealing_rolls_back(
    gateway: Gateway, clock: FakeClock
) -> None:
    assert gateway.cipher is not None
    for email in (ADA, BOB):
        _client(gateway, clock, email)
    ids = [(await _request(gateway, clock, "export", email)).request_id for email in (ADA, BOB)]
    expected = _read_back(gateway, ids)
    _unsealed(gateway)
    with gateway.engine.connect() as connection:
        assert ADA in connection.execute(sa.select(privacy_requests.c.subject_email)).scalars().all()
        bodies = connection.execute(sa.select(privacy_sections.c.body)).scalars().all()
    assert any(MARKER.encode() in bytes(body) for body in bodies)
    assert _read_back(gateway, ids) == expected  # dual read: plain rows before sealing
    steps = db.UnitOfWork(gateway.engine)
    with steps.begin() as session:
        assert sealing.seal_batch(session, gateway.cipher, batch=3) == 3  # half sealed: requests and a section
    assert _read_back(gateway, ids) == expected
    with steps.begin() as session:
        assert sealing.seal_batch(session, gateway.cipher) == 7  # the other sections, then the two clients
        assert sealing.seal_batch(session, gateway.cipher) == 0
    assert _read_back(gateway, ids) == expected
    url = str(gateway.engine.url)
    with pytest.raises(RuntimeError, match="unseal"):  # a migration holds no keys: sealed rows hold it back
        db.downgrade(url, bootstrap.MIGRATIONS, "0007")
    _unsealed(gateway)
    assert _read_back(gateway, ids) == expected
    db.downgrade(url, bootstrap.MIGRATIONS, "0007")
    with gateway.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "subject_email_index" not in {c["name"] for c in inspector.get_columns("privacy_requests")}
        assert "email_index" not in {c["name"] for c in inspector.get_columns("oauth_clients")}
        assert sorted(connection.execute(sa.select(oauth_clients.c.email)).scalars()) == [BOB, ADA]


@pytest.mark.parametrize("sealed", [True, False])
async def test_an_erasure_finds_the_requests_naming_the_e_mail_by_its_blind_index_or_plain_before_sealing(
    gateway: Gateway, clock: FakeClock, sealed: bool
) -> None:
    exported = await _request(gateway, clock, "export", ADA, profile_id="legacy-profile-id")
    if not sealed:
        _unsealed(gateway)
    await _request(gateway, clock, "erasure", ADA)
    with pytest.raises(PrivacyBundleExpired):
        _get(gateway.uow, exported.request_id)
    assert [email for _, email, _ in _listed(gateway.uow)] == ["", ""]
