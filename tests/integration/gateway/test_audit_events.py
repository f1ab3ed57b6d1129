"""ListAuditEvents over real gRPC: company admins see their company's records only, super admins every
record; filters and pages; the actor of a recorded operation is the token's subject, whatever headers say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import pytest
import sqlalchemy as sa

from services.gateway import bootstrap
from services.kit.audit import actors
from services.kit.audit.records import Actor, ActorKind, AuditEntry
from services.kit.audit.trail import AuditLog
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Service
from services.kit.persistence import db
from services.kit.testing import running, tenant
from teei.operations.v1 import operations_pb2, operations_pb2_grpc

Stub: TypeAlias = "operations_pb2_grpc.OperationsServiceAsyncStub"
START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SUPER = tenant("acme", role="super_admin", subject="ops-1")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """The gateway's database with 9 records: acme, globex and platform ones, a minute apart."""
    url = db.sqlite_url(tmp_path / "gateway.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    times = iter(START + timedelta(minutes=n) for n in range(100))
    log = AuditLog(db.UnitOfWork(engine), clock=lambda: next(times))
    for n in range(9):
        company = ("acme", "globex", None)[n % 3]
        actor = Actor(ActorKind.CLIENT, f"{company or 'platform'}-bot")
        log.record(
            AuditEntry(
                action=("token.issued", "client.registered")[n % 2], resource=f"r:{n}", tenant=company, actor=actor
            )
        )
    yield engine
    engine.dispose()


@pytest.fixture
async def stub(engine: sa.Engine, tmp_path: Path, nats_url: str) -> AsyncIterator[Stub]:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path, nats_url=nats_url)
    registration = bootstrap.operations_registration(config, engine=engine)
    async with running(Service(name="gateway", config=config, registrations=[registration])) as (_, channel):
        yield operations_pb2_grpc.OperationsServiceStub(channel)


async def _list(
    stub: Stub, metadata: tuple[tuple[str, str], ...], **fields: Any
) -> operations_pb2.ListAuditEventsResponse:
    return await stub.ListAuditEvents(operations_pb2.ListAuditEventsRequest(**fields), metadata=metadata)


async def test_a_company_admin_sees_only_their_company(stub: Stub) -> None:
    listed = await _list(stub, tenant("globex", role="company_admin"))
    assert [(e.sequence, e.tenant) for e in listed.events] == [(8, "globex"), (5, "globex"), (2, "globex")]


async def test_a_super_admin_sees_every_record_newest_first(stub: Stub) -> None:
    listed = await _list(stub, SUPER)
    assert [e.sequence for e in listed.events] == list(range(9, 0, -1))
    first = listed.events[-1]
    assert (first.prev_hash, len(first.hash), first.actor_kind) == ("0" * 64, 64, "client")
    assert first.time.ToDatetime(tzinfo=UTC) == START


@pytest.mark.parametrize("role", ["company_user", "participant", "volunteer"])
async def test_roles_without_the_audit_permission_are_refused(stub: Stub, role: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list(stub, tenant("acme", role=role))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_filters_combine(stub: Stub) -> None:
    by_action = await _list(stub, SUPER, action="client.registered")
    assert [e.sequence for e in by_action.events] == [8, 6, 4, 2]
    by_actor = await _list(stub, SUPER, actor="acme-bot")
    assert [e.sequence for e in by_actor.events] == [7, 4, 1]
    since, until = operations_pb2.ListAuditEventsRequest().since, operations_pb2.ListAuditEventsRequest().until
    since.FromDatetime(START + timedelta(minutes=2))
    until.FromDatetime(START + timedelta(minutes=5))
    window = await _list(stub, SUPER, since=since, until=until)
    assert [e.sequence for e in window.events] == [5, 4, 3]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list(stub, SUPER, since=until, until=since)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_pages_walk_the_log_and_a_token_serves_only_its_listing(stub: Stub) -> None:
    seen, token = [], ""
    while True:
        page = await _list(stub, SUPER, page_size=4, page_token=token)
        seen += [e.sequence for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(9, 0, -1))
    first = await _list(stub, SUPER, page_size=2)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list(stub, tenant("acme"), page_size=2, page_token=first.next_page_token)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_actor_of_an_operation_is_the_token_subject_not_a_header(stub: Stub) -> None:
    spoofed = (*tenant("acme", role="super_admin", subject="ops-7"), ("x-user-id", "mallory"), ("x-actor", "mallory"))
    request = operations_pb2.PurgeDeadLettersRequest(confirm=True, consumer="audit-actor-test")
    assert (await stub.PurgeDeadLetters(request, metadata=spoofed)).purged_count == 0
    (event,) = (await _list(stub, SUPER, action="dead_letters.purged")).events
    assert (event.actor, event.actor_kind, event.resource) == ("ops-7", "token", "dead_letters:audit-actor-test")
    assert event.request_id, "the request id of the call is kept"
    assert actors.current() == actors.UNKNOWN, "nothing leaked into this context"
