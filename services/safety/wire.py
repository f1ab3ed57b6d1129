"""Protobuf ⇄ domain for the safety contract: requests become commands, findings, flags and reviews go out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypedDict, TypeVar

from google.protobuf import timestamp_pb2

from services.kit.errors import FieldViolation
from services.kit.text_sources import TextSourceType
from services.safety.domain import commands
from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.domain.findings import Finding, FindingType, Priority
from services.safety.domain.model import (
    Flag,
    Outcome,
    ReviewAction,
    ReviewDecision,
    ReviewRecord,
    ReviewStatus,
    ScreenResult,
    TextSource,
)
from teei.common.v1 import types_pb2
from teei.safety.v1 import safety_pb2

ProtoT = TypeVar("ProtoT", bound=int)
DomainT = TypeVar("DomainT")

# Domain and contract enums share member names: a domain value without its contract twin fails at import.
FINDING_TYPES = {t: safety_pb2.FindingType.Value(f"FINDING_TYPE_{t.name}") for t in FindingType}
FINDING_TYPES_FROM_PROTO = {value: key for key, value in FINDING_TYPES.items()}
SOURCE_TYPES = {t: types_pb2.TextSourceType.Value(f"TEXT_SOURCE_TYPE_{t.name}") for t in TextSourceType}
SOURCE_TYPES_FROM_PROTO = {value: key for key, value in SOURCE_TYPES.items()}
REVIEW_STATUSES = {s: safety_pb2.ReviewStatus.Value(f"REVIEW_STATUS_{s.name}") for s in ReviewStatus}
REVIEW_PRIORITIES = {p: safety_pb2.ReviewPriority.Value(f"REVIEW_PRIORITY_{p.name}") for p in Priority}
DECISIONS = {d: safety_pb2.ReviewDecision.Value(f"REVIEW_DECISION_{d.name}") for d in ReviewDecision}
DECISIONS_FROM_PROTO = {value: key for key, value in DECISIONS.items()}
OUTCOMES = {o: types_pb2.ScreeningOutcome.Value(f"SCREENING_OUTCOME_{o.name}") for o in Outcome}


class SourceFields(TypedDict):
    """The fields naming a screened text, shared by flags, reviews and events."""

    source_text_id: str
    source_text_type: types_pb2.TextSourceType.ValueType
    profile_id: str


class FlagFields(SourceFields):
    """The fields a flag and its `safety.flag.raised` event share."""

    flag_id: str
    findings: list[safety_pb2.Finding]
    is_unsafe: bool
    requires_review: bool
    review_id: str


class ReviewFields(SourceFields):
    """The fields a review and its `safety.review.completed` event share."""

    review_id: str
    flag_id: str
    status: safety_pb2.ReviewStatus.ValueType
    redacted_text: str


class DecisionFields(TypedDict, total=False):
    """Who decided, why and when; absent on a review nobody decided yet."""

    reviewer: str
    notes: str
    decide_time: timestamp_pb2.Timestamp


def screen_text(request: safety_pb2.ScreenTextRequest, company_id: str) -> commands.ScreenText:
    """The ScreenText command of a request."""
    source_type = _known(SOURCE_TYPES_FROM_PROTO, request.source_text_type, "source_text_type")
    source = commands.text_source(request.source_text_id, source_type, request.profile_id)
    return commands.ScreenText(company_id, request.text, source, dry_run=request.dry_run)


def list_flags(request: safety_pb2.ListFlagsRequest, company_id: str) -> commands.ListFlags:
    """The ListFlags query of a request."""
    return commands.ListFlags(
        company_id=company_id,
        finding_type=_known(FINDING_TYPES_FROM_PROTO, request.finding_type, "finding_type"),
        source_text_id=request.source_text_id,
        profile_id=request.profile_id,
        start=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
        end=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def list_reviews(request: safety_pb2.ListReviewsRequest, company_id: str) -> commands.ListReviews:
    """The ListReviews query of a request."""
    return commands.ListReviews(company_id, request.status, request.profile_id, request.page_size, request.page_token)


def decide_review(request: safety_pb2.DecideReviewRequest, company_id: str, reviewer: str) -> commands.DecideReview:
    """The DecideReview command of a request; an unspecified or unknown decision is left for the handler to refuse."""
    decision = DECISIONS_FROM_PROTO.get(request.decision)
    return commands.DecideReview(company_id, request.review_id, decision, reviewer, request.notes)


def _known(mapping: Mapping[ProtoT, DomainT], value: ProtoT, field: str) -> DomainT | None:
    """The domain value of a proto enum: None when unspecified (0), a malformed request when unknown."""
    if not value:
        return None
    found = mapping.get(value)
    if found is None:
        raise InvalidSafetyRequest(f"{field} is not a known value", violations=[FieldViolation(field, "unknown value")])
    return found


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def findings(items: Sequence[Finding]) -> list[safety_pb2.Finding]:
    """Findings on the wire: offsets, never the matched text."""
    return [
        safety_pb2.Finding(
            type=FINDING_TYPES[f.type],
            subtype=f.subtype,
            confidence=f.confidence.value,
            spans=[safety_pb2.TextSpan(start_offset=s.start, end_offset=s.end) for s in f.spans],
            reason=f.reason,
        )
        for f in items
    ]


def summary(result: ScreenResult) -> types_pb2.ScreeningSummary:
    """The verdict that travels with the text."""
    return types_pb2.ScreeningSummary(
        outcome=OUTCOMES[result.outcome], redacted=result.redacted, flag_id=result.flag_id, review_id=result.review_id
    )


def screen_response(result: ScreenResult) -> safety_pb2.ScreenTextResponse:
    """The ScreenText answer."""
    return safety_pb2.ScreenTextResponse(
        findings=findings(result.findings),
        is_unsafe=result.is_unsafe,
        requires_review=result.requires_review,
        redacted_text=result.redacted_text,
        summary=summary(result),
    )


def source_fields(source: TextSource) -> SourceFields:
    """Where a text lives and who wrote it, on the wire."""
    return SourceFields(
        source_text_id=source.source_text_id,
        source_text_type=SOURCE_TYPES[source.source_text_type],
        profile_id=source.profile_id,
    )


def flag_fields(item: Flag) -> FlagFields:
    """A flag's id, source, findings and verdict, on the wire."""
    return FlagFields(
        **source_fields(item.source),
        flag_id=item.flag_id,
        findings=findings(item.findings),
        is_unsafe=item.is_unsafe,
        requires_review=item.requires_review,
        review_id=item.review_id,
    )


def review_fields(record: ReviewRecord) -> ReviewFields:
    """A review's ids, status and the text it is about, on the wire."""
    item, flagged = record.review, record.flag
    return ReviewFields(
        **source_fields(flagged.source),
        review_id=item.review_id,
        flag_id=item.flag_id,
        status=REVIEW_STATUSES[item.status],
        redacted_text=flagged.redacted_text,
    )


def decision_fields(action: ReviewAction | None) -> DecisionFields:
    """Who decided, why and when (nothing when no decision was taken)."""
    if action is None:
        return DecisionFields()
    return DecisionFields(reviewer=action.reviewer, notes=action.notes, decide_time=timestamp(action.decided_at))


def flag(item: Flag) -> safety_pb2.Flag:
    """A flag on the wire."""
    return safety_pb2.Flag(
        **flag_fields(item),
        redacted_text=item.redacted_text,
        content_hash=item.content_hash,
        create_time=timestamp(item.created_at),
    )


def review(record: ReviewRecord) -> safety_pb2.Review:
    """A review on the wire, with what it needs from its flag and its latest decision."""
    item = record.review
    return safety_pb2.Review(
        **review_fields(record),
        **decision_fields(item.latest),
        findings=findings(record.flag.findings),
        history=[safety_pb2.ReviewAction(decision=DECISIONS[a.decision], **decision_fields(a)) for a in item.history],
        create_time=timestamp(item.created_at),
        priority=REVIEW_PRIORITIES[item.priority],
    )
