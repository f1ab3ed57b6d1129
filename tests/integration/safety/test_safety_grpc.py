"""The safety service over real gRPC: every RPC's behaviour, errors, replays, tenancy and pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.config import ServiceConfig
from services.kit.testing import running, tenant
from services.safety import bootstrap
from teei.common.v1 import types_pb2
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

ACME = tenant("acme")
GLOBEX = tenant("globex")
RITA = tenant("acme", subject="rita@acme.example")
TOXIC = "you are such an idiot"
FEEDBACK = types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK
if TYPE_CHECKING:
    Stub = safety_pb2_grpc.SafetyServiceAsyncStub


@pytest.fixture
async def safety(service_config: ServiceConfig) -> AsyncIterator[Stub]:
    """A typed stub to the real safety service, served in-process."""
    async with running(bootstrap.build(service_config)) as (_, channel):
        yield safety_pb2_grpc.SafetyServiceStub(channel)


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    next(d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)).Unpack(info)
    reason: str = info.reason
    return reason


def _screen(text: str, **fields: object) -> safety_pb2.ScreenTextRequest:
    return safety_pb2.ScreenTextRequest(text=text, **fields)  # type: ignore[arg-type]


async def test_screening_flags_queues_a_review_and_every_read_rpc_sees_it(safety: Stub) -> None:
    screened = await safety.ScreenText(
        _screen(TOXIC + ", mail a@b.org", source_text_id="fb-1", source_text_type=FEEDBACK), metadata=ACME
    )
    assert screened.is_unsafe
    assert screened.requires_review
    assert screened.redacted_text == TOXIC + ", mail [EMAIL]"
    assert screened.summary.outcome == types_pb2.SCREENING_OUTCOME_PENDING_REVIEW
    assert screened.summary.redacted
    assert {f.type for f in screened.findings} == {safety_pb2.FINDING_TYPE_TOXIC, safety_pb2.FINDING_TYPE_PII}
    assert all(f.reason and f.confidence in (0.3, 0.6, 0.9) for f in screened.findings)
    flag = (await safety.GetFlag(safety_pb2.GetFlagRequest(flag_id=screened.summary.flag_id), metadata=ACME)).flag
    assert flag.review_id == screened.summary.review_id
    assert flag.source_text_id == "fb-1"
    assert flag.redacted_text == screened.redacted_text
    assert len(flag.content_hash) == 64
    review = (await safety.GetReview(safety_pb2.GetReviewRequest(review_id=flag.review_id), metadata=ACME)).review
    assert review.status == safety_pb2.REVIEW_STATUS_PENDING
    assert review.flag_id == flag.flag_id
    assert not review.HasField("decide_time")
    assert list(review.findings) == list(flag.findings)
    listed = await safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=ACME)
    assert [f.flag_id for f in listed.flags] == [flag.flag_id]
    queue = await safety.ListReviews(safety_pb2.ListReviewsRequest(status="pending"), metadata=ACME)
    assert [r.review_id for r in queue.reviews] == [review.review_id]


async def test_clean_text_passes_and_dry_runs_store_nothing(safety: Stub) -> None:
    clean = await safety.ScreenText(_screen("The session was lovely."), metadata=ACME)
    assert clean.summary.outcome == types_pb2.SCREENING_OUTCOME_PASSED
    assert not clean.findings
    dry = await safety.ScreenText(_screen(TOXIC, dry_run=True), metadata=ACME)
    assert dry.requires_review
    assert not dry.summary.flag_id
    assert not (await safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=ACME)).flags


async def test_screening_the_same_record_twice_returns_the_first_result(safety: Stub) -> None:
    request = _screen(TOXIC, source_text_id="fb-2", source_text_type=FEEDBACK)
    first = await safety.ScreenText(request, metadata=ACME)
    again = await safety.ScreenText(request, metadata=ACME)
    assert again == first
    assert len((await safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=ACME)).flags) == 1
    assert len((await safety.ListReviews(safety_pb2.ListReviewsRequest(), metadata=ACME)).reviews) == 1


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \n "}, "text"),
        ({"text": "a" * 20_001}, "text"),
        ({"text": "ok", "source_text_id": "x"}, "source_text_type"),
        ({"text": "ok", "source_text_id": "x" * 256, "source_text_type": FEEDBACK}, "source_text_id"),
        ({"text": "ok", "profile_id": "not-a-uuid"}, "profile_id"),
        ({"text": "ok", "source_text_type": 99}, "source_text_type"),
    ],
)
async def test_malformed_and_oversized_screen_requests_name_the_field(
    safety: Stub, request_fields: dict[str, object], field: str
) -> None:
    error = await _error(safety.ScreenText(safety_pb2.ScreenTextRequest(**request_fields), metadata=ACME))  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == [field]


async def test_a_message_over_the_transport_limit_is_refused(safety: Stub) -> None:
    error = await _error(safety.ScreenText(_screen("x" * (5 * 1024 * 1024)), metadata=ACME))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_another_tenant_sees_nothing_and_cannot_decide(safety: Stub) -> None:
    screened = await safety.ScreenText(_screen(TOXIC), metadata=ACME)
    flag_id, review_id = screened.summary.flag_id, screened.summary.review_id
    calls = [
        safety.GetFlag(safety_pb2.GetFlagRequest(flag_id=flag_id), metadata=GLOBEX),
        safety.GetReview(safety_pb2.GetReviewRequest(review_id=review_id), metadata=GLOBEX),
        safety.DecideReview(
            safety_pb2.DecideReviewRequest(review_id=review_id, decision=safety_pb2.REVIEW_DECISION_APPROVE),
            metadata=GLOBEX,
        ),
    ]
    for call in calls:
        assert (await _error(call)).code() == grpc.StatusCode.NOT_FOUND
    assert not (await safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=GLOBEX)).flags
    assert not (await safety.ListReviews(safety_pb2.ListReviewsRequest(), metadata=GLOBEX)).reviews
    review = (await safety.GetReview(safety_pb2.GetReviewRequest(review_id=review_id), metadata=ACME)).review
    assert review.status == safety_pb2.REVIEW_STATUS_PENDING


FORGED = (
    (),  # no token at all
    (("x-tenant-id", "acme"),),  # a tenant header is not an identity
    (("authorization", "Bearer not-a-jwt"),),
    (("authorization", "Basic YWNtZTphY21l"),),
)


@pytest.mark.parametrize("metadata", FORGED)
async def test_every_rpc_refuses_calls_without_a_valid_token(
    safety: Stub, metadata: tuple[tuple[str, str], ...]
) -> None:
    some_id = "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"
    calls = [
        safety.ScreenText(_screen(TOXIC), metadata=metadata),
        safety.GetFlag(safety_pb2.GetFlagRequest(flag_id=some_id), metadata=metadata),
        safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=metadata),
        safety.GetReview(safety_pb2.GetReviewRequest(review_id=some_id), metadata=metadata),
        safety.ListReviews(safety_pb2.ListReviewsRequest(), metadata=metadata),
        safety.DecideReview(safety_pb2.DecideReviewRequest(review_id=some_id), metadata=metadata),
    ]
    for call in calls:
        assert (await _error(call)).code() == grpc.StatusCode.UNAUTHENTICATED
    assert not (await safety.ListFlags(safety_pb2.ListFlagsRequest(), metadata=ACME)).flags


async def test_unknown_and_malformed_ids(safety: Stub) -> None:
    missing = "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"
    error = await _error(safety.GetFlag(safety_pb2.GetFlagRequest(flag_id=missing), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert _reason(error) == "FLAG_NOT_FOUND"
    error = await _error(safety.GetReview(safety_pb2.GetReviewRequest(review_id=missing), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert _reason(error) == "REVIEW_NOT_FOUND"
    for call, field in [
        (safety.GetFlag(safety_pb2.GetFlagRequest(flag_id="../x"), metadata=ACME), "flag_id"),
        (safety.GetReview(safety_pb2.GetReviewRequest(), metadata=ACME), "review_id"),
        (safety.DecideReview(safety_pb2.DecideReviewRequest(review_id="nope"), metadata=ACME), "review_id"),
    ]:
        error = await _error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _fields(error) == [field]


async def test_decisions_complete_once_and_a_second_decision_is_a_conflict(safety: Stub) -> None:
    review_id = (await safety.ScreenText(_screen(TOXIC), metadata=ACME)).summary.review_id

    async def decide(decision: safety_pb2.ReviewDecision.ValueType, notes: str = "") -> safety_pb2.Review:
        request = safety_pb2.DecideReviewRequest(review_id=review_id, decision=decision, notes=notes)
        return (await safety.DecideReview(request, metadata=RITA)).review

    error = await _error(decide(safety_pb2.REVIEW_DECISION_UNSPECIFIED))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == ["decision"]
    escalated = await decide(safety_pb2.REVIEW_DECISION_ESCALATE, "unsure")
    assert escalated.status == safety_pb2.REVIEW_STATUS_ESCALATED
    approved = await decide(safety_pb2.REVIEW_DECISION_APPROVE, "fine")
    assert approved.status == safety_pb2.REVIEW_STATUS_APPROVED
    assert (approved.reviewer, approved.notes) == ("rita@acme.example", "fine")
    assert [a.decision for a in approved.history] == [
        safety_pb2.REVIEW_DECISION_ESCALATE,
        safety_pb2.REVIEW_DECISION_APPROVE,
    ]
    error = await _error(decide(safety_pb2.REVIEW_DECISION_REJECT))
    assert error.code() == grpc.StatusCode.ABORTED
    assert _reason(error) == "REVIEW_ALREADY_DECIDED"
    stored = (await safety.GetReview(safety_pb2.GetReviewRequest(review_id=review_id), metadata=ACME)).review
    assert stored == approved


async def test_list_filters(safety: Stub) -> None:
    await safety.ScreenText(
        _screen("mail me at a@b.org", source_text_id="p1", source_text_type=FEEDBACK), metadata=ACME
    )
    toxic = await safety.ScreenText(_screen(TOXIC), metadata=ACME)
    await safety.ScreenText(_screen("damn"), metadata=ACME)
    pii = await safety.ListFlags(safety_pb2.ListFlagsRequest(finding_type=safety_pb2.FINDING_TYPE_PII), metadata=ACME)
    assert [f.source_text_id for f in pii.flags] == ["p1"]
    by_source = await safety.ListFlags(safety_pb2.ListFlagsRequest(source_text_id="p1"), metadata=ACME)
    assert len(by_source.flags) == 1
    await safety.DecideReview(
        safety_pb2.DecideReviewRequest(review_id=toxic.summary.review_id, decision=safety_pb2.REVIEW_DECISION_REJECT),
        metadata=ACME,
    )
    assert len((await safety.ListReviews(safety_pb2.ListReviewsRequest(status="rejected"), metadata=ACME)).reviews) == 1
    assert len((await safety.ListReviews(safety_pb2.ListReviewsRequest(status="PENDING"), metadata=ACME)).reviews) == 1
    error = await _error(safety.ListReviews(safety_pb2.ListReviewsRequest(status="done"), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == ["status"]


async def test_pagination_walks_every_flag_once_newest_first(safety: Stub) -> None:
    created = [
        (await safety.ScreenText(_screen(f"{TOXIC} number {i}"), metadata=ACME)).summary.flag_id for i in range(5)
    ]
    seen: list[str] = []
    token = ""
    for _ in range(5):
        page = await safety.ListFlags(safety_pb2.ListFlagsRequest(page_size=2, page_token=token), metadata=ACME)
        assert len(page.flags) <= 2
        seen += [f.flag_id for f in page.flags]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(created))
    everything = await safety.ListFlags(safety_pb2.ListFlagsRequest(page_size=1000), metadata=ACME)
    assert len(everything.flags) == 5
    assert not everything.next_page_token
    queue = await safety.ListReviews(safety_pb2.ListReviewsRequest(page_size=3), metadata=ACME)
    rest = await safety.ListReviews(
        safety_pb2.ListReviewsRequest(page_size=3, page_token=queue.next_page_token), metadata=ACME
    )
    assert [r.flag_id for r in (*queue.reviews, *rest.reviews)] == created


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"page_size": -1}, "page_size"),
        ({"page_token": "garbage!"}, "page_token"),
        ({"finding_type": 42}, "finding_type"),
    ],
)
async def test_malformed_list_requests(safety: Stub, request_fields: dict[str, object], field: str) -> None:
    error = await _error(safety.ListFlags(safety_pb2.ListFlagsRequest(**request_fields), metadata=ACME))  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _fields(error) == [field]


async def test_privacy_rpcs_find_nothing_for_an_unknown_person_and_need_a_request_id(safety: Stub) -> None:
    subject = types_pb2.DataSubject(email="a@b.org")
    export = await safety.ExportSubjectData(safety_pb2.ExportSubjectDataRequest(subject=subject), metadata=ACME)
    assert not export.records.fields
    operator = tenant("acme", role="super_admin")
    erase = await _error(
        safety.EraseSubjectData(safety_pb2.EraseSubjectDataRequest(subject=subject), metadata=operator)
    )
    assert erase.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Erasure is a platform operation: a company admin may not run it.
    denied = await _error(safety.EraseSubjectData(safety_pb2.EraseSubjectDataRequest(subject=subject), metadata=ACME))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_self_harm_is_held_for_an_urgent_review_listed_before_older_reviews(safety: Stub) -> None:
    await safety.ScreenText(_screen(TOXIC), metadata=ACME)
    harm = await safety.ScreenText(_screen("Jeg vil ikke leve lenger."), metadata=ACME)
    assert [f.type for f in harm.findings] == [safety_pb2.FINDING_TYPE_SELF_HARM]
    assert harm.summary.outcome == types_pb2.SCREENING_OUTCOME_PENDING_REVIEW
    assert not harm.is_unsafe
    queue = (await safety.ListReviews(safety_pb2.ListReviewsRequest(status="pending"), metadata=ACME)).reviews
    assert queue[0].review_id == harm.summary.review_id
    assert [r.priority for r in queue] == [safety_pb2.REVIEW_PRIORITY_URGENT, safety_pb2.REVIEW_PRIORITY_ROUTINE]
