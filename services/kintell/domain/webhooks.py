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
A 1-5 rating is stored as (r - 1) / 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.kintell.domain import schemas
from services.kintell.domain.json_fields import Reader, load_object, raise_if_invalid
from services.kintell.domain.model import Person, RaterRole, SessionFacts, SessionType, normalise_five_star
from services.kit.connectors import csvimport

SOURCE = "kintell"  # the webhook source whose secrets sign these deliveries
MAX_NAME = 200
_PERSON_KEYS = ("email", "id", "given_name", "family_name")
_BOOKING_KEYS = (
    "session_id",
    "session_type",
    "participant",
    "volunteer",
    "scheduled_at",
    "duration_minutes",
    "topics",
    "focus_area",
    "metadata",
)
_COMPLETION_KEYS = (*_BOOKING_KEYS, "completed_at", "rating", "feedback_text", "language_level", "goals_discussed")
_RATING_KEYS = ("rating_id", "session_id", "rater_role", "value", "scale", "feedback_text", "created_at")
_SCALES = {"0-1": (0.0, 1.0), "1-5": (1.0, 5.0)}


@dataclass(frozen=True)
class SessionDelivery:
    """A session-completed or booking-confirmed delivery ('' when the body names no delivery id)."""

    delivery_id: str
    facts: SessionFacts


@dataclass(frozen=True)
class RatingReport:
    """What a rating-created delivery says."""

    external_rating_id: str
    external_session_id: str
    rater_role: RaterRole
    rating: float
    feedback_text: str
    given_at: datetime | None


@dataclass(frozen=True)
class RatingDelivery:
    """A rating-created delivery ('' when the body names no delivery id)."""

    delivery_id: str
    report: RatingReport


def session_completed(body: bytes) -> SessionDelivery:
    """Reads a session-completed delivery; raises InvalidWebhook naming every bad field."""
    return _session_delivery(body, _COMPLETION_KEYS, "session-completed")


def booking_confirmed(body: bytes) -> SessionDelivery:
    """Reads a booking-confirmed delivery; raises InvalidWebhook naming every bad field."""
    return _session_delivery(body, _BOOKING_KEYS, "booking-confirmed")


def rating_created(body: bytes) -> RatingDelivery:
    """Reads a rating-created delivery; raises InvalidWebhook naming every bad field."""
    top = Reader(load_object(body))
    top.only("delivery_id", "rating")
    delivery_id = top.text("delivery_id", schemas.MAX_ID)
    record = top.obj("rating", required=True)
    report = _rating(record) if record is not None else None
    raise_if_invalid(top, "rating-created")
    assert report is not None  # a missing record was a violation above
    return RatingDelivery(delivery_id, report)


def _session_delivery(body: bytes, keys: tuple[str, ...], what: str) -> SessionDelivery:
    top = Reader(load_object(body))
    top.only("delivery_id", "session")
    delivery_id = top.text("delivery_id", schemas.MAX_ID)
    record = top.obj("session", required=True)
    facts = _session(record, keys, completed="completed_at" in keys) if record is not None else None
    raise_if_invalid(top, what)
    assert facts is not None  # a missing record was a violation above
    return SessionDelivery(delivery_id, facts)


def _session(record: Reader, keys: tuple[str, ...], *, completed: bool) -> SessionFacts | None:
    record.only(*keys)
    session_type = record.parsed("session_type", _session_type, required=True)
    scheduled = record.parsed("scheduled_at", schemas.utc_timestamp, required=True)
    completed_at = record.parsed("completed_at", schemas.utc_timestamp, required=completed) if completed else None
    rating = record.number("rating") if completed else None
    if rating is not None and not 0 <= rating <= 1:
        record.fault("rating", "must be between 0 and 1")
    if scheduled and completed_at and completed_at < scheduled:
        record.fault("completed_at", "must not be before scheduled_at")
    facts = SessionFacts(
        external_session_id=record.text("session_id", schemas.MAX_ID, required=True),
        session_type=session_type or SessionType.LANGUAGE,
        participant=_person(record, "participant"),
        volunteer=_person(record, "volunteer"),
        scheduled_at=scheduled or datetime.min,
        completed_at=completed_at,
        duration_minutes=record.integer("duration_minutes", 1, schemas.MAX_DURATION),
        rating=rating,
        feedback_text=record.text("feedback_text", schemas.MAX_FEEDBACK),
        language_level=record.parsed("language_level", schemas.cefr_level) or "",
        topics=record.strings("topics", schemas.MAX_LIST, schemas.MAX_LIST),
        focus_area=record.text("focus_area", schemas.MAX_FOCUS_AREA),
        goals_discussed=record.strings("goals_discussed", schemas.MAX_LIST, schemas.MAX_LIST),
        metadata=record.raw_object("metadata", schemas.MAX_METADATA),
    )
    return None if record.violations else facts


def _person(record: Reader, key: str) -> Person:
    person = record.obj(key, required=True)
    if person is None:
        return Person("")
    person.only(*_PERSON_KEYS)
    return Person(
        email=person.parsed("email", csvimport.email, required=True) or "",
        external_id=person.text("id", schemas.MAX_ID),
        given_name=person.text("given_name", MAX_NAME),
        family_name=person.text("family_name", MAX_NAME),
    )


def _session_type(value: str) -> SessionType:
    try:
        return SessionType(value)
    except ValueError:
        raise csvimport.FieldInvalid("must be language or mentorship") from None


def _rater_role(value: str) -> RaterRole:
    try:
        return RaterRole(value)
    except ValueError:
        raise csvimport.FieldInvalid("must be participant or volunteer") from None


def _rating(record: Reader) -> RatingReport | None:
    record.only(*_RATING_KEYS)
    value = record.number("value", required=True)
    scale = record.parsed("scale", _scale, required=True)
    if value is not None and scale is not None and not scale[0] <= value <= scale[1]:
        record.fault("value", f"must be between {scale[0]:g} and {scale[1]:g} on the {scale[0]:g}-{scale[1]:g} scale")
    report = RatingReport(
        external_rating_id=record.text("rating_id", schemas.MAX_ID),
        external_session_id=record.text("session_id", schemas.MAX_ID, required=True),
        rater_role=record.parsed("rater_role", _rater_role, required=True) or RaterRole.PARTICIPANT,
        rating=_normalised(value or 0.0, scale),
        feedback_text=record.text("feedback_text", schemas.MAX_FEEDBACK),
        given_at=record.parsed("created_at", schemas.utc_timestamp),
    )
    return None if record.violations else report


def _scale(value: str) -> tuple[float, float]:
    if value not in _SCALES:
        raise csvimport.FieldInvalid(f"must be one of {', '.join(_SCALES)}")
    return _SCALES[value]


def _normalised(value: float, scale: tuple[float, float] | None) -> float:
    return normalise_five_star(value) if scale == _SCALES["1-5"] else value
