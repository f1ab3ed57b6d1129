"""The dead-letter admin RPCs over real gRPC against a real NATS: a poison event dead-lettered by the
real EventBus is listed, shown, replayed once after the fault is fixed, and purged only when
confirmed; only super admins may call them; NATS being away answers UNAVAILABLE."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import nats
import pytest
import sqlalchemy as sa
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.cli.spec import free_port
from services.gateway import bootstrap
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Service
from services.kit.messaging import eventbus, events
from services.kit.messaging.eventbus import DLQ_PREFIX, DLQ_STREAM, STREAM, EventBus, RetryPolicy
from services.kit.persistence import db
from services.kit.testing import running, tenant
from teei.events.v1 import envelope_pb2
from teei.operations.v1 import operations_pb2, operations_pb2_grpc
from teei.profile.v1 import events_pb2

Stub: TypeAlias = "operations_pb2_grpc.OperationsServiceAsyncStub"
FAST = RetryPolicy(max_deliver=3, base_seconds=0.05, max_seconds=0.2)
OPERATOR = tenant("acme", role="super_admin", subject="ops-1")
KEK = base64.b64encode(b"o" * 32).decode()
MILESTONE = "journey.milestone.reached"
MILESTONE_TYPE = events_pb2.MilestoneReached.DESCRIPTOR.full_name


class FlakyHandler:
    """Fails every delivery of the 'poison' profile until fixed; records every applied event."""

    def __init__(self) -> None:
        self.fixed = False
        self.applied: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, envelope: envelope_pb2.Envelope, session: sa.orm.Session) -> None:
        profile_id = events.payload_of(envelope).profile_id
        if profile_id == "poison" and not self.fixed:
            raise RuntimeError("downstream fault")
        with self._changed:
            self.applied.append(profile_id)
            self._changed.notify_all()

    async def wait_applied(self, count: int) -> list[str]:
        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: len(self.applied) >= count, 15.0)

        assert await asyncio.to_thread(wait), f"applied only {self.applied}"
        return list(self.applied)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[nats.js.JetStreamContext]:
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=2)
    context = nc.jetstream()
    for stream in (STREAM, DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(stream)
    await eventbus.ensure_dlq_stream(context)
    yield context
    await nc.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "events.db"))
    events.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _operations_only(nats_url: str | None, tmp_path: Path) -> Service:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path, nats_url=nats_url)
    url = db.sqlite_url(tmp_path / "gateway.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    engine = db.create_engine(url)
    registration = bootstrap.operations_registration(config, engine=engine)
    return Service(name="gateway", config=config, registrations=[registration], on_stop=[engine.dispose])


@pytest.fixture
async def stub(nats_url: str, tmp_path: Path, js: nats.js.JetStreamContext) -> AsyncIterator[Stub]:
    """The admin RPCs as the gateway serves them, on a clean dead-letter stream."""
    async with running(_operations_only(nats_url, tmp_path)) as (_, channel):
        yield operations_pb2_grpc.OperationsServiceStub(channel)


async def _error(call: Any) -> tuple[grpc.StatusCode, str, list[str]]:
    """The code, ErrorInfo reason and BadRequest fields of a failed call."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    status = rpc_status.from_call(caught.value)
    reason, fields = "", []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return caught.value.code(), reason, fields


def _record(engine: sa.Engine, profile_id: str) -> envelope_pb2.Envelope:
    envelope = events.new_event(
        events_pb2.MilestoneReached(profile_id=profile_id), source="teei/test", tenant="acme", subject=profile_id
    )
    with db.UnitOfWork(engine).begin() as session:
        events.record(session, envelope)
    return envelope


async def _letters(stub: Stub, count: int, **filters: Any) -> list[operations_pb2.DeadLetter]:
    request = operations_pb2.ListDeadLettersRequest(**filters)
    async with asyncio.timeout(15):
        while len(found := (await stub.ListDeadLetters(request, metadata=OPERATOR)).dead_letters) < count:  # noqa: ASYNC110 - remote state
            await asyncio.sleep(0.05)  # polling interval of a bounded wait
    return list(found)


async def _dead_letter(js: nats.js.JetStreamContext, consumer: str, envelope: bytes, **headers: str) -> None:
    fields = {"Teei-Consumer": consumer, "Teei-Attempts": "5", "Teei-Original-Subject": "teei.events.x", **headers}
    await js.publish(DLQ_PREFIX + consumer, envelope, headers=fields)


async def _audit_events(stub: Stub, action: str) -> list[operations_pb2.AuditEvent]:
    request = operations_pb2.ListAuditEventsRequest(action=action)
    return list((await stub.ListAuditEvents(request, metadata=OPERATOR)).events)


async def test_super_admin_lists_shows_and_replays_a_poison_event_which_is_then_applied_once(
    nats_url: str, tmp_path: Path, engine: sa.Engine, js: nats.js.JetStreamContext
) -> None:
    handler = FlakyHandler()
    subscription = events.Subscription("ops-flaky", (MILESTONE,), handler)
    bus = EventBus(url=nats_url, service="t", engine=engine, subscriptions=[subscription], poll_seconds=0.1, retry=FAST)
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path, nats_url=nats_url)
    await bus.start()
    try:
        async with running(bootstrap.build(config, environ={"TEEI_KEY_ENCRYPTION_KEY": KEK})) as (_, channel):
            stub: Stub = operations_pb2_grpc.OperationsServiceStub(channel)
            poison = _record(engine, "poison")
            _record(engine, "behind")
            assert await handler.wait_applied(1) == ["behind"]

            (listed,) = await _letters(stub, 1)
            assert (listed.consumer, listed.event_id, listed.event_type) == ("ops-flaky", poison.id, MILESTONE)
            assert (listed.tenant, listed.attempts) == ("acme", FAST.max_deliver)
            assert listed.original_subject == events.nats_subject(MILESTONE)
            assert "downstream fault" in listed.last_error
            assert listed.payload_size_bytes == len(poison.SerializeToString())
            assert listed.HasField("dead_letter_time")

            shown = await stub.GetDeadLetter(
                operations_pb2.GetDeadLetterRequest(sequence=listed.sequence), metadata=OPERATOR
            )
            assert shown.dead_letter == listed
            envelope = json_format.MessageToDict(shown.envelope)
            assert (envelope["id"], envelope["tenant"], envelope["type"]) == (poison.id, "acme", MILESTONE)
            assert envelope["data"] == {"@type": f"type.googleapis.com/{MILESTONE_TYPE}", "profile_id": "poison"}

            handler.fixed = True
            replay = operations_pb2.ReplayDeadLetterRequest(sequence=listed.sequence)
            replayed = await stub.ReplayDeadLetter(replay, metadata=OPERATOR)
            assert replayed.dead_letter.event_id == poison.id
            assert await handler.wait_applied(2) == ["behind", "poison"]
            (audit,) = await _audit_events(stub, "dead_letter.replayed")
            assert (audit.actor, audit.actor_kind, audit.tenant) == ("ops-1", "token", "acme")
            assert audit.resource == f"dead_letter:{listed.sequence}"
            assert json_format.MessageToDict(audit.diff)["after"]["event_id"] == poison.id

            assert await _letters(stub, 0) == []
            assert (await _error(stub.ReplayDeadLetter(replay, metadata=OPERATOR)))[:2] == (
                grpc.StatusCode.NOT_FOUND,
                "DEAD_LETTER_NOT_FOUND",
            )
            # An event recorded after the replay is applied after it: the poison event was applied exactly once.
            _record(engine, "after")
            assert await handler.wait_applied(3) == ["behind", "poison", "after"]
    finally:
        await bus.stop()


async def test_purge_is_refused_without_confirm_and_drops_only_the_named_consumers_letters(
    stub: Stub, js: nats.js.JetStreamContext
) -> None:
    for consumer in ("alpha", "alpha", "beta"):
        await _dead_letter(js, consumer, b"")
    await _letters(stub, 3)

    refused = stub.PurgeDeadLetters(operations_pb2.PurgeDeadLettersRequest(), metadata=OPERATOR)
    assert await _error(refused) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", ["confirm"])
    assert len(await _letters(stub, 3)) == 3

    only_alpha = operations_pb2.PurgeDeadLettersRequest(confirm=True, consumer="alpha")
    assert (await stub.PurgeDeadLetters(only_alpha, metadata=OPERATOR)).purged_count == 2
    assert [letter.consumer for letter in await _letters(stub, 1)] == ["beta"]
    everything = operations_pb2.PurgeDeadLettersRequest(confirm=True)
    assert (await stub.PurgeDeadLetters(everything, metadata=OPERATOR)).purged_count == 1
    assert await _letters(stub, 0) == []
    purges = [
        (a.actor, a.resource, json_format.MessageToDict(a.diff)["after"]["purged_count"])
        for a in await _audit_events(stub, "dead_letters.purged")
    ]
    assert purges == [("ops-1", "dead_letters:*", 1), ("ops-1", "dead_letters:alpha", 2)]  # newest first


@pytest.mark.parametrize("role", ["company_admin", "company_user", "participant", "volunteer"])
async def test_only_super_admins_may_call_the_admin_rpcs(role: str, stub: Stub, js: nats.js.JetStreamContext) -> None:
    await _dead_letter(js, "guarded", b"")
    caller = tenant("acme", role=role)
    calls = [
        stub.ListDeadLetters(operations_pb2.ListDeadLettersRequest(), metadata=caller),
        stub.GetDeadLetter(operations_pb2.GetDeadLetterRequest(sequence=1), metadata=caller),
        stub.ReplayDeadLetter(operations_pb2.ReplayDeadLetterRequest(sequence=1), metadata=caller),
        stub.PurgeDeadLetters(operations_pb2.PurgeDeadLettersRequest(confirm=True), metadata=caller),
    ]
    for call in calls:
        assert (await _error(call))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert (await _error(stub.ListDeadLetters(operations_pb2.ListDeadLettersRequest())))[0] == (
        grpc.StatusCode.UNAUTHENTICATED
    )
    assert [letter.consumer for letter in await _letters(stub, 1)] == ["guarded"], "nothing was replayed or purged"


async def test_pages_and_filters_walk_the_stream_oldest_first(stub: Stub, js: nats.js.JetStreamContext) -> None:
    def envelope(event_type: str, event_id: str) -> bytes:
        return envelope_pb2.Envelope(id=event_id, type=event_type, tenant="globex").SerializeToString()

    for number, (consumer, event_type) in enumerate(
        [("alpha", "a.b.created"), ("beta", "a.b.created"), ("alpha", "a.b.deleted"), ("alpha", "a.b.created")]
    ):
        await _dead_letter(js, consumer, envelope(event_type, f"e-{number}"))
    await _letters(stub, 4)

    seen, token = [], ""
    while True:
        page = await stub.ListDeadLetters(
            operations_pb2.ListDeadLettersRequest(page_size=3, page_token=token), metadata=OPERATOR
        )
        assert len(page.dead_letters) <= 3
        seen += [letter.event_id for letter in page.dead_letters]
        if not (token := page.next_page_token):
            break
    assert seen == ["e-0", "e-1", "e-2", "e-3"]
    alpha_created = await _letters(stub, 2, consumer="alpha", event_type="a.b.created")
    assert [letter.event_id for letter in alpha_created] == ["e-0", "e-3"]
    assert all(letter.tenant == "globex" for letter in alpha_created)

    bad_token = stub.ListDeadLetters(operations_pb2.ListDeadLettersRequest(page_token="nope"), metadata=OPERATOR)
    assert (await _error(bad_token))[::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])
    wildcard = stub.ListDeadLetters(operations_pb2.ListDeadLettersRequest(consumer="alpha.>"), metadata=OPERATOR)
    assert (await _error(wildcard))[::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["consumer"])


async def test_unknown_or_missing_sequences_and_unknown_payload_types(stub: Stub, js: nats.js.JetStreamContext) -> None:
    unknown = envelope_pb2.Envelope(id="e-x", type="x.y.z")
    unknown.data.type_url = "type.googleapis.com/teei.nowhere.v1.Unknown"
    unknown.data.value = b"\x0a\x03abc"
    await _dead_letter(js, "odd", unknown.SerializeToString())
    (letter,) = await _letters(stub, 1)

    shown = await stub.GetDeadLetter(operations_pb2.GetDeadLetterRequest(sequence=letter.sequence), metadata=OPERATOR)
    envelope = json_format.MessageToDict(shown.envelope)
    assert (envelope["id"], envelope["data"]) == ("e-x", {"@type": "type.googleapis.com/teei.nowhere.v1.Unknown"})

    missing = operations_pb2.GetDeadLetterRequest(sequence=letter.sequence + 100)
    assert (await _error(stub.GetDeadLetter(missing, metadata=OPERATOR)))[:2] == (
        grpc.StatusCode.NOT_FOUND,
        "DEAD_LETTER_NOT_FOUND",
    )
    zero = stub.ReplayDeadLetter(operations_pb2.ReplayDeadLetterRequest(), metadata=OPERATOR)
    assert (await _error(zero))[::2] == (grpc.StatusCode.INVALID_ARGUMENT, ["sequence"])


async def test_a_letter_without_an_original_subject_is_not_replayed(stub: Stub, js: nats.js.JetStreamContext) -> None:
    await _dead_letter(js, "manual", b"", **{"Teei-Original-Subject": ""})
    (letter,) = await _letters(stub, 1)
    replay = stub.ReplayDeadLetter(operations_pb2.ReplayDeadLetterRequest(sequence=letter.sequence), metadata=OPERATOR)
    assert (await _error(replay))[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "DEAD_LETTER_NOT_REPLAYABLE")
    assert len(await _letters(stub, 1)) == 1


@pytest.mark.parametrize("configured", [True, False], ids=["nothing-listening", "no-nats-url"])
async def test_nats_away_answers_unavailable(configured: bool, tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}" if configured else None
    async with running(_operations_only(url, tmp_path)) as (_, channel):
        stub: Stub = operations_pb2_grpc.OperationsServiceStub(channel)
        for call in (
            stub.ListDeadLetters(operations_pb2.ListDeadLettersRequest(), metadata=OPERATOR),
            stub.PurgeDeadLetters(operations_pb2.PurgeDeadLettersRequest(confirm=True), metadata=OPERATOR),
        ):
            assert (await _error(call))[:2] == (grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE")
