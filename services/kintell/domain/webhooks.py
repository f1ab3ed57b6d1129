"""The Kintell webhook payloads this connector accepts (JSON, UTF-8, at most 1 MiB, no unknown keys).

Every delivery is signed (Standard Webhooks, checked before the body is read): its `webhook-id`
header is the delivery id, so a replay of the same id and bytes is acknowledged as a duplicate. The
body is an object with one record and, optionally, the legacy `delivery_id` (1-255 characters;
only a delivery handed to the handlers in-process, without a signed id, is keyed by it):

session-completed::

    {"delivery_id": "d-1",
     "session": {"session_id": "k-42", "session_type": "language" | "mentorship",
                 "participant": {"email": "p@x.org", "id": "kin-p-7", "given_name": "", "family_name": ""},
                 "volunteer": {"email": "v@corp.com", "id": "kin-v-3"},
                 "scheduled_at": "2026-03-01T10:00:00Z", "completed_at": "2026-03-01T11:00:00Z",
                 "duration_minutes": 60, "rating": 0.75, "feedback_text": "...", "language_level": "B1",
                 "topics": ["travel"], "focus_area": "CV", "goals_discussed": ["interview"],
                 "metadata": {...}}}

booking-confirmed: the same `session` object without completed_at, rating, feedback_text,
language_level and goals_discussed.

rating-created::

    {"delivery_id": "d-2",
     "rating": {"rating_id": "r-9", "session_id": "k-42", "rater_role": "participant" | "volunteer",
                "value": 4, "scale": "1-5" | "0-1", "feedback_text": "...", "created_at": "2026-03-02"}}

Required: session_id, session_type, participant.email, volunteer.email,
scheduled_at (and completed_at for session-completed); for a rating: session_id, rater_role,
value and scale. Field limits follow the CSV columns (session_id 1-255, e-mail <= 255,
ISO date-time or YYYY-MM-DD, duration 1-480, rating 0-1, feedback <= 5000, CEFR A1-C2,
topics and goals <= 1000 characters joined, focus_area <= 255, metadata <= 2000 as JSON).
A 1-5 rating is stored as (r - 1) / 4. A null or blank value is taken as not given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Self

from pydantic import model_validator

from services.kintell.domain.csv_schemas import (
    MAX_DURATION,
    MAX_FEEDBACK,
    MAX_FOCUS_AREA,
    MAX_ID,
    MAX_LIST,
    MAX_METADATA,
    cefr_level,
)
from services.kintell.domain.errors import InvalidWebhook
from services.kintell.domain.model import RaterRole, SessionFacts, SessionType, normalise_five_star
from services.kit.connectors import cells, fields, payloads
from services.kit.connectors.model import Person
from services.kit.connectors.payloads import Payload

SOURCE = "kintell"  # the webhook source whose secrets sign these deliveries
MAX_NAME = 200
SCALES = {"0-1": (0.0, 1.0), "1-5": (1.0, 5.0)}

Id = Annotated[str, fields.line(MAX_ID)]
Name = Annotated[str, fields.line(MAX_NAME)]
When = Annotated[datetime, fields.TIMESTAMP]
Feedback = Annotated[str, fields.text(MAX_FEEDBACK)]
Texts = Annotated[tuple[Annotated[str, fields.text(MAX_LIST)], ...], fields.LIST, fields.joined_at_most(MAX_LIST)]


def _scale(value: str) -> str:
    if value not in SCALES:
        raise cells.FieldInvalid(f"must be one of {', '.join(SCALES)}")
    return value


class Party(Payload):
    """A party of a session: `{"email", "id"?, "given_name"?, "family_name"?}`."""

    email: Annotated[str, fields.EMAIL]
    id: Id = ""
    given_name: Name = ""
    family_name: Name = ""

    def person(self) -> Person:
        """The party as the domain knows people."""
        return Person(self.email, self.id, self.given_name, self.family_name)


class BookedSession(Payload):
    """The `session` of a booking-confirmed delivery (faults are reported in the order of these fields)."""

    session_type: Annotated[SessionType, fields.choice(SessionType)]
    scheduled_at: When
    session_id: Id
    participant: Party
    volunteer: Party
    duration_minutes: Annotated[int, fields.within(1, MAX_DURATION)] | None = None
    topics: Texts = ()
    focus_area: Annotated[str, fields.text(MAX_FOCUS_AREA)] = ""
    metadata: Annotated[dict[str, object], fields.json_at_most(MAX_METADATA)] | None = None

    def facts(self) -> SessionFacts:
        """What the delivery says about its session."""
        return SessionFacts(
            external_session_id=self.session_id,
            session_type=self.session_type,
            participant=self.participant.person(),
            volunteer=self.volunteer.person(),
            scheduled_at=self.scheduled_at,
            duration_minutes=self.duration_minutes,
            topics=self.topics,
            focus_area=self.focus_area,
            metadata=self.metadata,
        )


class CompletedSession(BookedSession):
    """The `session` of a session-completed delivery: a booked session plus how it went."""

    completed_at: When
    rating: Annotated[float, fields.within(0, 1)] | None = None
    feedback_text: Feedback = ""
    language_level: Annotated[str, fields.parsed(cefr_level)] = ""
    goals_discussed: Texts = ()

    @model_validator(mode="after")
    def _completed_after_scheduled(self) -> Self:
        if self.completed_at < self.scheduled_at:
            raise payloads.fault("must not be before scheduled_at", field="completed_at")
        return self

    def facts(self) -> SessionFacts:
        """What the delivery says about its session."""
        return replace(
            super().facts(),
            completed_at=self.completed_at,
            rating=self.rating,
            feedback_text=self.feedback_text,
            language_level=self.language_level,
            goals_discussed=self.goals_discussed,
        )


class RatingReport(Payload):
    """The `rating` of a rating-created delivery; `value` is on the given `scale`."""

    rating_id: Id = ""
    session_id: Id
    rater_role: Annotated[RaterRole, fields.choice(RaterRole)]
    value: float
    scale: Annotated[str, fields.parsed(_scale)]
    feedback_text: Feedback = ""
    created_at: When | None = None

    @model_validator(mode="after")
    def _on_its_scale(self) -> Self:
        low, high = SCALES[self.scale]
        if not low <= self.value <= high:
            raise payloads.fault(f"must be between {low:g} and {high:g} on the {self.scale} scale", field="value")
        return self

    @property
    def rating(self) -> float:
        """The rating on the 0-1 scale."""
        return normalise_five_star(self.value) if self.scale == "1-5" else self.value


class BookingConfirmed(Payload):
    """A booking-confirmed delivery."""

    delivery_id: Id = ""
    session: BookedSession


class SessionCompleted(BookingConfirmed):
    """A session-completed delivery."""

    session: CompletedSession


class RatingCreated(Payload):
    """A rating-created delivery."""

    delivery_id: Id = ""
    rating: RatingReport


def session_completed(body: bytes) -> SessionCompleted:
    """Reads a session-completed delivery; raises InvalidWebhook naming every bad field."""
    return payloads.read(SessionCompleted, body, invalid=InvalidWebhook, what="session-completed")


def booking_confirmed(body: bytes) -> BookingConfirmed:
    """Reads a booking-confirmed delivery; raises InvalidWebhook naming every bad field."""
    return payloads.read(BookingConfirmed, body, invalid=InvalidWebhook, what="booking-confirmed")


def rating_created(body: bytes) -> RatingCreated:
    """Reads a rating-created delivery; raises InvalidWebhook naming every bad field."""
    return payloads.read(RatingCreated, body, invalid=InvalidWebhook, what="rating-created")
