"""The privacy requests' store on PostgreSQL: a request driven to completion, the subject forgotten,
leases that exclude a second process, newest-first paging by (time, id), and exports read as expired
once their bundle is past its keeping period."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.gateway import bootstrap, handlers, queries, sealing
from services.gateway.bootstrap import Gateway
from services.gateway.domain import privacy as dsr
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.dsr.worker import PrivacyWorker
from services.gateway.tables import privacy_requests, privacy_sections
from services.kit.persistence import db
from services.kit.security import pii
from tests.unit.gateway.conftest import FakeClock
from tests.unit.gateway.privacy.test_worker import EMAIL, _services

ENVIRON = {"TEEI_KEY_ENCRYPTION_KEY": base64.b64encode(b"q" * 32).decode()}
ADMIN = queries.Viewer("acme", "admin-1", sees_company=True)


@pytest.fixture
def gateway(postgres_url: str, tmp_path: Path) -> Iterator[Gateway]:
    cipher = pii.local(tmp_path, "gateway")
    opened = bootstrap.open_gateway(postgres_url, tmp_path, environ=ENVIRON, cipher=cipher)
    try:
        yield opened
    finally:
        opened.engine.dispose()
        cipher.close()


def _receive(gateway: Gateway, clock: FakeClock, kind: str = "erasure", key: str = "") -> dsr.PrivacyRequest:
    command = ReceivePrivacyRequest(
        kind=kind, company_id="acme", requested_by="admin-1", email=EMAIL, reason="r", confirm=True, client_key=key
    )
    return handlers.receive_privacy_request(command, services=("profile", "kintell"), uow=gateway.uow, clock=clock)[0]


async def test_a_request_completes_and_forgets_the_subject_on_postgresql(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), clock=clock)
    request = _receive(gateway, clock)
    assert await worker.run_once() == 1
    done, _ = queries.get_privacy_request(request.request_id, ADMIN, uow=gateway.uow)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert done.subject.email == ""
    assert [o.status for o in done.outcomes] == [dsr.PartStatus.DONE] * 3


def test_a_lease_excludes_a_second_process_until_it_runs_out(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    request = _receive(gateway, clock)
    lease = timedelta(minutes=5)
    take = handlers.start_privacy_request
    assert take(request.request_id, owner="a", lease=lease, uow=gateway.uow, clock=clock) is not None
    assert take(request.request_id, owner="b", lease=lease, uow=gateway.uow, clock=clock) is None
    clock.advance(301)
    assert take(request.request_id, owner="b", lease=lease, uow=gateway.uow, clock=clock) is not None


def test_listing_pages_newest_first_without_gaps(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    made = []
    for i in range(5):
        made.append(_receive(gateway, clock, kind="export", key=f"k-{i}").request_id)
        clock.advance(1 if i != 2 else 0)  # two requests share a creation time: the id breaks the tie
    seen: list[str] = []
    after = None
    while True:
        page = queries.list_privacy_requests(ADMIN, kind=None, status=None, after=after, limit=2, uow=gateway.uow)
        if not page:
            break
        seen += [v.request.request_id for v in page]
        after = (page[-1].request.created_at, page[-1].request.request_id)
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen)) == 5
    assert [v.request.request_id for v in queries.list_privacy_requests(
        queries.Viewer("globex", "admin-9", sees_company=True), kind=None, status=None, after=None, limit=10,
        uow=gateway.uow,
    )] == []  # fmt: skip


def test_listing_filters_by_kind_status_and_requester(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    export = _receive(gateway, clock, kind="export")
    erasure = _receive(gateway, clock, kind="erasure")

    def ids(viewer: queries.Viewer, *, kind: dsr.RequestKind | None, status: dsr.RequestStatus | None) -> list[str]:
        found = queries.list_privacy_requests(viewer, kind=kind, status=status, after=None, limit=10, uow=gateway.uow)
        return [v.request.request_id for v in found]

    assert ids(ADMIN, kind=dsr.RequestKind.EXPORT, status=None) == [export.request_id]
    assert ids(ADMIN, kind=None, status=dsr.RequestStatus.RECEIVED) == sorted(
        [export.request_id, erasure.request_id], reverse=True
    )
    assert ids(ADMIN, kind=None, status=dsr.RequestStatus.COMPLETED) == []
    someone_else = queries.Viewer("acme", "user-7", sees_company=False)
    assert ids(someone_else, kind=None, status=None) == []


async def test_an_export_past_its_bundles_expiry_lists_as_expired_on_postgresql(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), clock=clock)
    export = _receive(gateway, clock, kind="export")
    await worker.run_once()
    kept = timedelta(days=30)

    def expired(value: bool) -> list[str]:
        found = queries.list_privacy_requests(
            ADMIN, kind=None, status=dsr.RequestStatus.COMPLETED, bundle_expired=value, after=None, limit=10,
            uow=gateway.uow, kept_for=kept, clock=clock,
        )  # fmt: skip
        return [v.request.request_id for v in found]

    assert (expired(True), expired(False)) == ([], [export.request_id])
    clock.advance(kept.total_seconds())
    assert (expired(True), expired(False)) == ([export.request_id], [])


async def test_the_online_migration_seals_and_unseals_requests_and_bundles_on_postgresql(gateway: Gateway) -> None:
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), clock=clock)
    export = _receive(gateway, clock, kind="export")
    await worker.run_once()
    before = queries.get_privacy_request(export.request_id, ADMIN, uow=gateway.uow)
    assert gateway.cipher is not None
    steps = db.UnitOfWork(gateway.engine)
    with steps.begin() as session:
        assert sealing.unseal_batch(session, gateway.cipher) == 4  # the request and its three sections
        assert sealing.unseal_batch(session, gateway.cipher) == 0
    with gateway.engine.connect() as connection:
        assert connection.execute(sa.select(privacy_requests.c.subject_email)).scalar_one() == EMAIL
    assert queries.get_privacy_request(export.request_id, ADMIN, uow=gateway.uow) == before
    with steps.begin() as session:
        assert sealing.seal_batch(session, gateway.cipher, batch=2) == 2
        assert sealing.seal_batch(session, gateway.cipher) == 2
        assert sealing.seal_batch(session, gateway.cipher) == 0
    with gateway.engine.connect() as connection:
        bodies = connection.execute(sa.select(privacy_sections.c.body)).scalars().all()
    assert all(bytes(body).startswith(b"pii1.") for body in bodies)
    assert queries.get_privacy_request(export.request_id, ADMIN, uow=gateway.uow) == before
