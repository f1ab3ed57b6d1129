"""Event consumers: text-bearing source events and safety review decisions feed the Q2Q handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import orm

from services.kit import events
from services.kit.logs import get_logger
from services.q2q import held_texts
from services.q2q.domain.classifier import Classifier, RuleBasedClassifier
from services.q2q.domain.commands import ReviewDecision, SourceText
from services.q2q.domain.model import SourceRef, SourceType, check_profile_id
from services.q2q.repository import SqlQ2qStore
from services.q2q.wire import SOURCE_FROM_PROTO
from teei.common.v1 import types_pb2
from teei.safety.v1 import events_pb2 as safety_events
from teei.safety.v1 import safety_pb2

log = get_logger(__name__)
SOURCE_EVENTS = (
    "kintell.session.completed",
    "kintell.rating.created",
    "buddy.feedback.submitted",
    "buddy.checkin.completed",
)
REVIEW_EVENTS = ("safety.review.completed",)
_DEFAULT_CLASSIFIER = RuleBasedClassifier()
# event type → (source type, payload field of the id, of the text, of the screening verdict)
_FEEDBACK = ("feedback_text", "feedback_screening")
_SOURCES: dict[str, tuple[SourceType, str, str, str]] = {
    "kintell.session.completed": (SourceType.KINTELL_SESSION_FEEDBACK, "session_id", *_FEEDBACK),
    "kintell.rating.created": (SourceType.KINTELL_RATING_FEEDBACK, "rating_id", *_FEEDBACK),
    "buddy.feedback.submitted": (SourceType.BUDDY_FEEDBACK, "feedback_id", "text", "text_screening"),
    "buddy.checkin.completed": (SourceType.BUDDY_CHECKIN_NOTES, "checkin_id", "notes", "notes_screening"),
}


def classify_text_event(
    envelope: events.Envelope, session: orm.Session, *, classifier: Classifier | None = None
) -> None:
    """Scores the text of a source event when screened safe, holds it when awaiting review."""
    command = source_text(envelope)
    if command is None:
        return
    store = SqlQ2qStore(session, company_id=command.company_id, causation=envelope)
    held_texts.receive_source_text(command, store=store, classifier=classifier or _DEFAULT_CLASSIFIER)


def review_completed(envelope: events.Envelope, session: orm.Session, *, classifier: Classifier | None = None) -> None:
    """An approved review releases the held text for scoring; a rejected one discards it."""
    command = review_decision(envelope)
    if command is None:
        return
    store = SqlQ2qStore(session, company_id=command.company_id, causation=envelope)
    held_texts.apply_review(command, store=store, classifier=classifier or _DEFAULT_CLASSIFIER)


def source_text(envelope: events.Envelope) -> SourceText | None:
    """The command of a text-bearing source event; None when there is nothing to score."""
    spec = _SOURCES.get(envelope.type)
    if spec is None or not envelope.tenant:
        log.warning("q2q.event_ignored", event_type=envelope.type, event_id=envelope.id, reason="unknown or no tenant")
        return None
    source_type, id_field, text_field, screening_field = spec
    payload: Any = events.payload_of(envelope)
    source_id: str = getattr(payload, id_field)
    if not source_id:
        return None
    screening = getattr(payload, screening_field)
    return SourceText(
        company_id=envelope.tenant,
        source=SourceRef(source_type, source_id),
        profile_id=_profile(payload.participant.profile_id),
        text=_text(payload, text_field),
        screened_safe=screening.outcome == types_pb2.SCREENING_OUTCOME_PASSED,
        screened_unsafe=screening.outcome == types_pb2.SCREENING_OUTCOME_UNSAFE,
        review_id=screening.review_id,
    )


def review_decision(envelope: events.Envelope) -> ReviewDecision | None:
    """The command of a final review decision about a stored text; None for ad hoc text or an open review."""
    if not envelope.tenant:
        return None
    payload: safety_events.ReviewCompleted = events.payload_of(envelope)
    source_type = SOURCE_FROM_PROTO.get(payload.source_text_type)
    final = payload.status in (safety_pb2.REVIEW_STATUS_APPROVED, safety_pb2.REVIEW_STATUS_REJECTED)
    if source_type is None or not payload.source_text_id or not final:
        return None
    return ReviewDecision(
        company_id=envelope.tenant,
        source=SourceRef(source_type, payload.source_text_id),
        profile_id=_profile(payload.profile_id),
        approved=payload.status == safety_pb2.REVIEW_STATUS_APPROVED,
        redacted_text=payload.redacted_text,
        review_id=payload.review_id,
    )


def _text(payload: Any, text_field: str) -> str:
    text: str = getattr(payload, text_field)
    if text_field != "notes":
        return text
    # A check-in's notes and its free-text answers are one text to score.
    answers = [response.answer for response in payload.question_responses if response.answer.strip()]
    return "\n".join(part for part in (text, *answers) if part.strip())


def _profile(profile_id: str) -> str:
    return "" if check_profile_id(profile_id, required=False) else profile_id


def subscriptions(classifier: Classifier) -> list[events.Subscription]:
    """The service's durable consumers, bound to a classifier."""

    def bind(handler: Callable[..., None]) -> events.Handler:
        return lambda envelope, session: handler(envelope, session, classifier=classifier)

    return [
        events.Subscription(consumer="q2q-source-texts", event_types=SOURCE_EVENTS, handler=bind(classify_text_event)),
        events.Subscription(consumer="q2q-safety-reviews", event_types=REVIEW_EVENTS, handler=bind(review_completed)),
    ]


SUBSCRIPTIONS = subscriptions(_DEFAULT_CLASSIFIER)
