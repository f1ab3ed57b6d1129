"""Event consumers: screen the free text of programme-source events, keep flags and reviews, pass the verdict on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import orm

from services.kit.errors import FieldViolation
from services.kit.identity import profile_id_for_email
from services.kit.messaging import erasures, events
from services.kit.text_sources import TextSourceType
from services.safety import handlers, privacy
from services.safety.domain import commands
from services.safety.domain.commands import ScreenEventText
from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.repository import SqlSafetyRepository
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events

CONSUMER = "safety-screening"


@dataclass(frozen=True)
class _Text:
    """The text an event carries, where it lives and who wrote it."""

    field: str
    text: str
    source_text_id: str
    source_text_type: TextSourceType
    author: types_pb2.PersonRef


def _session_completed(payload: kintell_events.SessionCompleted) -> _Text:
    # Session feedback is the participant's.
    return _Text(
        "feedback_text",
        payload.feedback_text,
        payload.session_id,
        TextSourceType.KINTELL_SESSION_FEEDBACK,
        payload.participant,
    )


def _rating_created(payload: kintell_events.RatingCreated) -> _Text:
    author = payload.volunteer if payload.rater_role == types_pb2.PERSON_ROLE_VOLUNTEER else payload.participant
    return _Text(
        "feedback_text", payload.feedback_text, payload.rating_id, TextSourceType.KINTELL_RATING_FEEDBACK, author
    )


def _feedback_submitted(payload: buddy_events.FeedbackSubmitted) -> _Text:
    author = payload.buddy if payload.author_role == types_pb2.PERSON_ROLE_VOLUNTEER else payload.participant
    return _Text("text", payload.text, payload.feedback_id, TextSourceType.BUDDY_FEEDBACK, author)


def _checkin_completed(payload: buddy_events.CheckInCompleted) -> _Text:
    # Notes and every answer get one verdict (`notes_screening`), so they are screened as one text.
    parts = [payload.notes, *(answer.answer for answer in payload.question_responses)]
    author = payload.buddy if payload.person_role == types_pb2.PERSON_ROLE_VOLUNTEER else payload.participant
    text = "\n\n".join(part for part in parts if part.strip())
    return _Text("notes", text, payload.checkin_id, TextSourceType.BUDDY_CHECKIN_NOTES, author)


_EXTRACTORS: dict[str, Callable[[Any], _Text]] = {
    "kintell.session.completed": _session_completed,
    "kintell.rating.created": _rating_created,
    "buddy.feedback.submitted": _feedback_submitted,
    "buddy.checkin.completed": _checkin_completed,
}


def screen_text_event(envelope: events.Envelope, session: orm.Session) -> None:
    """Screens the text of one source event in the delivery's transaction; events without text need nothing."""
    extract = _EXTRACTORS.get(envelope.type)
    if extract is None:
        raise InvalidSafetyRequest(
            f"safety does not screen {envelope.type!r} events", violations=[FieldViolation("type", "not subscribed")]
        )
    if not envelope.tenant:
        raise InvalidSafetyRequest("the event names no tenant", violations=[FieldViolation("tenant", "is required")])
    found = extract(events.payload_of(envelope))
    if not found.text.strip():
        return
    author = _profile_id(found.author, envelope.tenant)
    source = commands.text_source(found.source_text_id, found.source_text_type, author)
    command = ScreenEventText(envelope.tenant, found.text, source, found.field, envelope.type, envelope.id)
    repository = SqlSafetyRepository(session, company_id=envelope.tenant, causation=envelope)
    handlers.screen_event_text(command, repository=repository)


def _profile_id(person: types_pb2.PersonRef, tenant: str) -> str:
    """The author's profile id: the one the source resolved, else the one their e-mail defines platform-wide."""
    try:
        return str(uuid.UUID(person.profile_id))
    except ValueError:
        pass
    # An unresolved author must not block screening: the flag and the verdict then name no author.
    return profile_id_for_email(tenant, person.email) if person.email.strip() else ""


SUBSCRIPTIONS: list[events.Subscription] = [
    events.Subscription(consumer=CONSUMER, event_types=tuple(_EXTRACTORS), handler=screen_text_event),
    # Flags and reviews re-learnt about a person the platform erased (a text still in flight) go again.
    erasures.subscription(privacy.MAP),
]
