"""The buddy service over real gRPC: imports, webhooks, reads, errors with details, tenancy."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.buddy import bootstrap
from services.buddy.handlers import Limits
from services.cli.webhooks import provision
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import running, tenant
from teei.buddy.v1 import buddy_pb2, buddy_pb2_grpc
from teei.common.v1 import types_pb2
from tests.integration.buddy.signing import SECRETS, signed_as
from tests.unit.buddy.samples import csv_of, delivery

if TYPE_CHECKING:
    Stub = buddy_pb2_grpc.BuddyServiceAsyncStub

ACME = tenant("acme")
GLOBEX = tenant("globex")


def _import(kind: str, data: bytes) -> buddy_pb2.ImportRecordsRequest:
    return buddy_pb2.ImportRecordsRequest(kind=kind, body=httpbody_pb2.HttpBody(content_type="text/csv", data=data))


def _hook(kind: str, body: bytes) -> buddy_pb2.ReceiveWebhookRequest:
    return buddy_pb2.ReceiveWebhookRequest(
        kind=kind, body=httpbody_pb2.HttpBody(content_type="application/json", data=body)
    )


async def _error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def _fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    if status is None:  # statuses raised outside the service code (unimplemented, auth) carry no details
        return []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


async def _seed(buddy: Stub) -> None:
    for kind in ("matches", "events", "checkins", "feedback"):
        response = await buddy.ImportRecords(_import(kind, csv_of(kind)), metadata=ACME)
        assert response.batch.rows_stored == 1


async def test_every_kind_imports_and_reads_back(buddy: Stub) -> None:
    await _seed(buddy)
    (match,) = (await buddy.ListMatches(buddy_pb2.ListMatchesRequest(), metadata=ACME)).matches
    assert match.participant.email == "ada@example.org"
    assert (await buddy.GetMatch(buddy_pb2.GetMatchRequest(match_id=match.match_id), metadata=ACME)).match == match
    (event,) = (await buddy.ListEvents(buddy_pb2.ListEventsRequest(match_id=match.match_id), metadata=ACME)).events
    assert (await buddy.GetEvent(buddy_pb2.GetEventRequest(event_id=event.event_id), metadata=ACME)).event == event
    (checkin,) = (await buddy.ListCheckIns(buddy_pb2.ListCheckInsRequest(), metadata=ACME)).checkins
    got = await buddy.GetCheckIn(buddy_pb2.GetCheckInRequest(checkin_id=checkin.checkin_id), metadata=ACME)
    assert got.checkin == checkin
    assert checkin.mood == buddy_pb2.MOOD_GOOD
    (feedback,) = (await buddy.ListFeedback(buddy_pb2.ListFeedbackRequest(), metadata=ACME)).feedback
    got_feedback = await buddy.GetFeedback(
        buddy_pb2.GetFeedbackRequest(feedback_id=feedback.feedback_id), metadata=ACME
    )
    assert got_feedback.feedback == feedback
    assert feedback.HasField("rating")
    assert not feedback.HasField("engagement")


async def test_list_filters_combine(buddy: Stub) -> None:
    await _seed(buddy)
    ended = buddy_pb2.ListMatchesRequest(status=buddy_pb2.MATCH_STATUS_ENDED)
    assert list((await buddy.ListMatches(ended, metadata=ACME)).matches) == []
    by_email = buddy_pb2.ListMatchesRequest(email=" BOB@example.org ")
    assert len((await buddy.ListMatches(by_email, metadata=ACME)).matches) == 1
    participants = buddy_pb2.ListFeedbackRequest(author_role=types_pb2.PERSON_ROLE_PARTICIPANT)
    assert list((await buddy.ListFeedback(participants, metadata=ACME)).feedback) == []
    workshops = buddy_pb2.ListEventsRequest(event_type=buddy_pb2.EVENT_TYPE_WORKSHOP)
    assert list((await buddy.ListEvents(workshops, metadata=ACME)).events) == []
    later = buddy_pb2.ListCheckInsRequest()
    later.start_time.FromJsonString("2026-02-01T00:00:00Z")
    assert list((await buddy.ListCheckIns(later, metadata=ACME)).checkins) == []


async def test_import_errors_come_back_as_csv(buddy: Stub) -> None:
    data = csv_of("matches", {"participant_email": "=cmd()"}, {"match_id": "m-2"})
    batch = (await buddy.ImportRecords(_import("matches", data), metadata=ACME)).batch
    assert batch.status == types_pb2.IMPORT_STATUS_COMPLETED_WITH_ERRORS
    assert (await buddy.GetImport(buddy_pb2.GetImportRequest(batch_id=batch.batch_id), metadata=ACME)).batch == batch
    errors = await buddy.GetImportErrors(buddy_pb2.GetImportErrorsRequest(batch_id=batch.batch_id), metadata=ACME)
    assert errors.body.content_type.startswith("text/csv")
    lines = errors.body.data.decode().splitlines()
    assert lines == ["row,field,message,value", "2,participant_email,is not a valid e-mail address,'=cmd()"]
    assert [(e.row, e.field) for e in errors.errors] == [(2, "participant_email")]
    listed = (await buddy.ListImports(buddy_pb2.ListImportsRequest(), metadata=ACME)).batches
    assert [b.batch_id for b in listed] == [batch.batch_id]


async def test_webhooks_store_once_and_ack_replays(buddy: Stub) -> None:
    signed = signed_as("acme", delivery("matches"))
    first = (await buddy.ReceiveWebhook(_hook("matches", delivery("matches")), metadata=signed)).ack
    replay = (await buddy.ReceiveWebhook(_hook("matches", delivery("matches")), metadata=signed)).ack
    assert (first.delivery_id, first.duplicate, replay.duplicate) == ("d-1", False, True)
    (match,) = (await buddy.ListMatches(buddy_pb2.ListMatchesRequest(), metadata=ACME)).matches
    assert match.provenance.channel == types_pb2.INGEST_CHANNEL_WEBHOOK


@pytest.mark.parametrize(
    ("call", "code", "fields"),
    [
        (
            lambda s: s.ImportRecords(_import("sessions", csv_of("matches")), metadata=ACME),
            "INVALID_ARGUMENT",
            ["kind"],
        ),
        (lambda s: s.ImportRecords(_import("matches", b""), metadata=ACME), "INVALID_ARGUMENT", ["body"]),
        (
            lambda s: s.ReceiveWebhook(_hook("sessions", b"{}"), metadata=signed_as("acme", b"{}")),
            "INVALID_ARGUMENT",
            ["kind"],
        ),
        (
            lambda s: s.ReceiveWebhook(_hook("matches", b"{"), metadata=signed_as("acme", b"{")),
            "INVALID_ARGUMENT",
            ["body"],
        ),
        (
            lambda s: s.ReceiveWebhook(
                _hook("checkins", delivery("checkins")), metadata=signed_as("acme", delivery("checkins"))
            ),
            "FAILED_PRECONDITION",
            ["data.match_id"],
        ),
        (
            lambda s: s.GetMatch(buddy_pb2.GetMatchRequest(match_id="../x"), metadata=ACME),
            "INVALID_ARGUMENT",
            ["match_id"],
        ),
        (
            lambda s: s.ListMatches(buddy_pb2.ListMatchesRequest(page_token="nope"), metadata=ACME),
            "INVALID_ARGUMENT",
            ["page_token"],
        ),
        (
            lambda s: s.ListMatches(buddy_pb2.ListMatchesRequest(profile_id="p"), metadata=ACME),
            "INVALID_ARGUMENT",
            ["profile_id"],
        ),
        (
            lambda s: s.ListMatches(
                buddy_pb2.ListMatchesRequest(status=buddy_pb2.MatchStatus.ValueType(42)), metadata=ACME
            ),
            "INVALID_ARGUMENT",
            ["status"],
        ),
        (lambda s: s.ListMatches(buddy_pb2.ListMatchesRequest()), "UNAUTHENTICATED", []),
        (lambda s: s.ImportRecords(_import("matches", csv_of("matches"))), "UNAUTHENTICATED", []),
        (lambda s: s.ReceiveWebhook(_hook("matches", delivery("matches"))), "UNAUTHENTICATED", []),
        (
            lambda s: s.ExportSubjectData(buddy_pb2.ExportSubjectDataRequest(), metadata=ACME),
            "INVALID_ARGUMENT",
            [],
        ),
        (lambda s: s.ReceiveWebhook(_hook("matches", delivery("matches")), metadata=ACME), "UNAUTHENTICATED", []),
        (
            # Erasure is a platform operator's RPC (PERMISSION_PLATFORM_OPERATE).
            lambda s: s.EraseSubjectData(
                buddy_pb2.EraseSubjectDataRequest(), metadata=tenant("acme", role="super_admin")
            ),
            "INVALID_ARGUMENT",
            [],
        ),
    ],
)
async def test_bad_calls_fail_with_typed_status(buddy: Stub, call: Any, code: str, fields: list[str]) -> None:
    error = await _error(call(buddy))
    assert error.code() == getattr(grpc.StatusCode, code)
    assert _fields(error) == fields


async def test_another_company_sees_nothing(buddy: Stub) -> None:
    await _seed(buddy)
    (match,) = (await buddy.ListMatches(buddy_pb2.ListMatchesRequest(), metadata=ACME)).matches
    (batch,) = (await buddy.ListImports(buddy_pb2.ListImportsRequest(page_size=1), metadata=ACME)).batches
    assert list((await buddy.ListMatches(buddy_pb2.ListMatchesRequest(), metadata=GLOBEX)).matches) == []
    assert list((await buddy.ListImports(buddy_pb2.ListImportsRequest(), metadata=GLOBEX)).batches) == []
    calls: list[Awaitable[Any]] = [
        buddy.GetMatch(buddy_pb2.GetMatchRequest(match_id=match.match_id), metadata=GLOBEX),
        buddy.GetImport(buddy_pb2.GetImportRequest(batch_id=batch.batch_id), metadata=GLOBEX),
        buddy.GetImportErrors(buddy_pb2.GetImportErrorsRequest(batch_id=batch.batch_id), metadata=GLOBEX),
    ]
    for call in calls:
        assert (await _error(call)).code() == grpc.StatusCode.NOT_FOUND


async def test_oversized_uploads_are_refused(tmp_path: Path) -> None:
    config = ServiceConfig(grpc_port=0, var_dir=tmp_path)
    provision(tmp_path, "acme", "buddy", SECRETS["acme"])
    limits = Limits(csv_bytes=1024, webhook_bytes=256)
    async with running(bootstrap.build(config, limits=limits)) as (_, channel):
        stub = buddy_pb2_grpc.BuddyServiceStub(channel)
        big_csv = csv_of("matches", *({"match_id": f"m-{i}"} for i in range(20)))
        csv_error = await _error(stub.ImportRecords(_import("matches", big_csv), metadata=ACME))
        signed = signed_as("acme", delivery("matches"))
        hook_error = await _error(stub.ReceiveWebhook(_hook("matches", delivery("matches")), metadata=signed))
        too_big = b"x" * (limits.csv_bytes + bootstrap.MESSAGE_HEADROOM + 1)
        transport_error = await _error(stub.ImportRecords(_import("matches", too_big), metadata=ACME))
    assert (csv_error.code(), _fields(csv_error)) == (grpc.StatusCode.INVALID_ARGUMENT, ["body"])
    assert (hook_error.code(), _fields(hook_error)) == (grpc.StatusCode.INVALID_ARGUMENT, ["body"])
    assert transport_error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_new_records_leave_their_events_in_the_outbox(buddy: Stub, service_config: ServiceConfig) -> None:
    await _seed(buddy)
    await buddy.ImportRecords(_import("feedback", csv_of("feedback")), metadata=ACME)
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))
    try:
        with db.UnitOfWork(engine).begin() as session:
            pending = events.pending(session)
    finally:
        engine.dispose()
    assert [e.type for e in pending] == [
        "buddy.match.created",
        "buddy.event.logged",
        "buddy.checkin.completed",
        "buddy.feedback.submitted",
    ]
    assert {e.tenant for e in pending} == {"acme"}
    assert {e.source for e in pending} == {"teei/buddy"}
