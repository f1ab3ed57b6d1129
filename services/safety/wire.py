"""Domain ⇄ protobuf for the safety contract: findings, flags, reviews and event payloads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf import timestamp_pb2

from services.safety.domain.findings import Finding, FindingType
from services.safety.domain.model import (
    Flag,
    Outcome,
    ReviewAction,
    ReviewDecision,
    ReviewRecord,
    ReviewStatus,
    ScreenResult,
    TextSource,
    TextSourceType,
)
from teei.common.v1 import types_pb2
from teei.safety.v1 import events_pb2, safety_pb2

FINDING_TYPES = {
    FindingType.PROFANITY: safety_pb2.FINDING_TYPE_PROFANITY,
    FindingType.PII: safety_pb2.FINDING_TYPE_PII,
    FindingType.TOXIC: safety_pb2.FINDING_TYPE_TOXIC,
    FindingType.SPAM: safety_pb2.FINDING_TYPE_SPAM,
}
FINDING_TYPES_FROM_PROTO = {value: key for key, value in FINDING_TYPES.items()}
SOURCE_TYPES = {
    TextSourceType.KINTELL_SESSION_FEEDBACK: types_pb2.TEXT_SOURCE_TYPE_KINTELL_SESSION_FEEDBACK,
    TextSourceType.KINTELL_RATING_FEEDBACK: types_pb2.TEXT_SOURCE_TYPE_KINTELL_RATING_FEEDBACK,
    TextSourceType.BUDDY_FEEDBACK: types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK,
    TextSourceType.BUDDY_CHECKIN_NOTES: types_pb2.TEXT_SOURCE_TYPE_BUDDY_CHECKIN_NOTES,
    TextSourceType.SURVEY_RESPONSE: types_pb2.TEXT_SOURCE_TYPE_SURVEY_RESPONSE,
    TextSourceType.OTHER: types_pb2.TEXT_SOURCE_TYPE_OTHER,
}
SOURCE_TYPES_FROM_PROTO = {value: key for key, value in SOURCE_TYPES.items()}
REVIEW_STATUSES = {
    ReviewStatus.PENDING: safety_pb2.REVIEW_STATUS_PENDING,
    ReviewStatus.APPROVED: safety_pb2.REVIEW_STATUS_APPROVED,
    ReviewStatus.REJECTED: safety_pb2.REVIEW_STATUS_REJECTED,
    ReviewStatus.ESCALATED: safety_pb2.REVIEW_STATUS_ESCALATED,
}
DECISIONS = {
    ReviewDecision.APPROVE: safety_pb2.REVIEW_DECISION_APPROVE,
    ReviewDecision.REJECT: safety_pb2.REVIEW_DECISION_REJECT,
    ReviewDecision.ESCALATE: safety_pb2.REVIEW_DECISION_ESCALATE,
}
DECISIONS_FROM_PROTO = {value: key for key, value in DECISIONS.items()}
OUTCOMES = {
    Outcome.PASSED: types_pb2.SCREENING_OUTCOME_PASSED,
    Outcome.UNSAFE: types_pb2.SCREENING_OUTCOME_UNSAFE,
    Outcome.PENDING_REVIEW: types_pb2.SCREENING_OUTCOME_PENDING_REVIEW,
}


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


def flag(item: Flag) -> safety_pb2.Flag:
    """A flag on the wire."""
    return safety_pb2.Flag(
        flag_id=item.flag_id,
        source_text_id=item.source.source_text_id,
        source_text_type=SOURCE_TYPES[item.source.source_text_type],
        profile_id=item.source.profile_id,
        findings=findings(item.findings),
        is_unsafe=item.is_unsafe,
        requires_review=item.requires_review,
        review_id=item.review_id,
        redacted_text=item.redacted_text,
        content_hash=item.content_hash,
        create_time=timestamp(item.created_at),
    )


def review(record: ReviewRecord) -> safety_pb2.Review:
    """A review on the wire, with what it needs from its flag."""
    item, flagged = record.review, record.flag
    message = safety_pb2.Review(
        review_id=item.review_id,
        flag_id=item.flag_id,
        status=REVIEW_STATUSES[item.status],
        source_text_id=flagged.source.source_text_id,
        source_text_type=SOURCE_TYPES[flagged.source.source_text_type],
        profile_id=flagged.source.profile_id,
        redacted_text=flagged.redacted_text,
        findings=findings(flagged.findings),
        history=[_action(a) for a in item.history],
        create_time=timestamp(item.created_at),
    )
    if item.latest is not None:
        message.reviewer = item.latest.reviewer
        message.notes = item.latest.notes
        message.decide_time.CopyFrom(timestamp(item.latest.decided_at))
    return message


def _action(action: ReviewAction) -> safety_pb2.ReviewAction:
    return safety_pb2.ReviewAction(
        decision=DECISIONS[action.decision],
        reviewer=action.reviewer,
        notes=action.notes,
        decide_time=timestamp(action.decided_at),
    )


def flag_raised(item: Flag) -> events_pb2.FlagRaised:
    """The `safety.flag.raised` payload."""
    return events_pb2.FlagRaised(
        flag_id=item.flag_id,
        source_text_id=item.source.source_text_id,
        source_text_type=SOURCE_TYPES[item.source.source_text_type],
        profile_id=item.source.profile_id,
        findings=findings(item.findings),
        is_unsafe=item.is_unsafe,
        requires_review=item.requires_review,
        review_id=item.review_id,
        raise_time=timestamp(item.created_at),
    )


def review_completed(record: ReviewRecord) -> events_pb2.ReviewCompleted:
    """The `safety.review.completed` payload of a review's final decision."""
    item, flagged = record.review, record.flag
    latest = item.history[-1]
    return events_pb2.ReviewCompleted(
        review_id=item.review_id,
        flag_id=item.flag_id,
        source_text_id=flagged.source.source_text_id,
        source_text_type=SOURCE_TYPES[flagged.source.source_text_type],
        profile_id=flagged.source.profile_id,
        status=REVIEW_STATUSES[item.status],
        reviewer=latest.reviewer,
        notes=latest.notes,
        decide_time=timestamp(latest.decided_at),
        redacted_text=flagged.redacted_text,
    )


def text_screened(
    result: ScreenResult, source: TextSource, *, event_type: str, event_id: str
) -> events_pb2.TextScreened:
    """The `safety.text.screened` payload: the verdict and the redacted text, never an unsafe text."""
    return events_pb2.TextScreened(
        source_text_id=source.source_text_id,
        source_text_type=SOURCE_TYPES[source.source_text_type],
        source_event_type=event_type,
        source_event_id=event_id,
        profile_id=source.profile_id,
        screening=summary(result),
        redacted_text="" if result.outcome is Outcome.UNSAFE else result.redacted_text,
    )
