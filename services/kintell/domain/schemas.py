"""The Kintell CSV exports this connector reads, each recognised by its exact header set, and how a
valid row becomes session facts.

The legacy (pre-versioning) export only ever listed sessions that took place, so its `date` is
both the scheduled and the completion time, and its 1-5 rating is stored as (r - 1) / 4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.kintell.domain.model import CEFR_LEVELS, Person, SessionFacts, SessionType, normalise_five_star
from services.kit.connectors import csvimport
from services.kit.connectors.csvimport import Column, Parsed, Row, RowError, Schema

MAX_ID = 255
MAX_FEEDBACK = 5000
MAX_LIST = 1000
MAX_FOCUS_AREA = 255
MAX_METADATA = 2000
MAX_DURATION = 480
DATE_LENGTH = len("YYYY-MM-DD")


def cefr_level(value: str) -> str:
    """A CEFR level A1-C2 (case-insensitive), upper-cased."""
    level = value.upper()
    if level not in CEFR_LEVELS:
        raise csvimport.FieldInvalid(f"must be one of {', '.join(CEFR_LEVELS)}")
    return level


def legacy_session_type(value: str) -> SessionType:
    """The legacy export's free-text session type: anything naming "language" or "mentor"."""
    lowered = value.lower()
    if "language" in lowered:
        return SessionType.LANGUAGE
    if "mentor" in lowered:
        return SessionType.MENTORSHIP
    raise csvimport.FieldInvalid('must contain "language" or "mentor"')


def utc_timestamp(value: str) -> datetime:
    """An ISO date-time or YYYY-MM-DD, stored in UTC."""
    parsed: datetime = csvimport.timestamp(value)
    return parsed.astimezone(UTC)


_SESSION_ID = Column("session_id", csvimport.text(MAX_ID))
_PARTICIPANT = Column("participant_email", csvimport.email)
_SCHEDULED = Column("scheduled_at", utc_timestamp)
_COMPLETED = Column("completed_at", utc_timestamp, required=False)
_DURATION = Column("duration_minutes", csvimport.integer(1, MAX_DURATION), required=False)
_RATING = Column("rating", csvimport.number(0, 1), required=False)
_FEEDBACK = Column("feedback_text", csvimport.text(MAX_FEEDBACK), required=False)
_LEVEL = Column("language_level", cefr_level, required=False)

LANGUAGE_V1_0 = Schema(
    "language_session",
    "1.0",
    (
        _SESSION_ID,
        _PARTICIPANT,
        Column("volunteer_email", csvimport.email),
        _SCHEDULED,
        _COMPLETED,
        _DURATION,
        _RATING,
        _FEEDBACK,
        _LEVEL,
        Column("topics", csvimport.listing(MAX_LIST), required=False),
    ),
    key="session_id",
)
LANGUAGE_V1_1 = replace(
    LANGUAGE_V1_0,
    version="1.1",
    columns=(*LANGUAGE_V1_0.columns, Column("metadata", csvimport.json_object(MAX_METADATA), required=False)),
)
MENTORSHIP_V1_0 = Schema(
    "mentorship_session",
    "1.0",
    (
        _SESSION_ID,
        _PARTICIPANT,
        Column("mentor_email", csvimport.email),
        _SCHEDULED,
        _COMPLETED,
        _DURATION,
        _RATING,
        _FEEDBACK,
        Column("focus_area", csvimport.text(MAX_FOCUS_AREA), required=False),
        Column("goals_discussed", csvimport.listing(MAX_LIST), required=False),
    ),
    key="session_id",
)
LEGACY = Schema(
    "legacy_export",
    "0",
    (
        _SESSION_ID,
        Column("session_type", legacy_session_type),
        _PARTICIPANT,
        Column("volunteer_email", csvimport.email),
        Column("date", utc_timestamp),
        Column("duration_min", csvimport.integer(1, MAX_DURATION), required=False),
        Column("rating", csvimport.number(1, 5), required=False),
        _FEEDBACK,
        _LEVEL,
    ),
    key="session_id",
)
SCHEMAS = (LANGUAGE_V1_0, LANGUAGE_V1_1, MENTORSHIP_V1_0, LEGACY)


def parse(data: bytes) -> Parsed:
    """Parses a Kintell export; rows whose values contradict each other join the invalid ones."""
    parsed = csvimport.parse(data, SCHEMAS)
    still_valid: list[Row] = []
    for row in parsed.valid:
        errors = _row_rule_errors(row)
        (parsed.invalid if errors else still_valid).append(replace(row, errors=errors) if errors else row)
    parsed.valid = still_valid
    parsed.invalid.sort(key=lambda row: row.number)
    return parsed


def _row_rule_errors(row: Row) -> tuple[RowError, ...]:
    scheduled, completed = row.values.get("scheduled_at"), row.values.get("completed_at")
    if scheduled is None or completed is None:
        return ()
    # A bare date means "that day": it is only early when the day itself is earlier.
    if DATE_LENGTH in (len(row.raw["scheduled_at"].strip()), len(row.raw["completed_at"].strip())):
        early = completed.date() < scheduled.date()
    else:
        early = completed < scheduled
    if early:
        return (RowError(row.number, "completed_at", "must not be before scheduled_at", row.raw["completed_at"]),)
    return ()


def facts_of(schema: Schema, values: dict[str, Any]) -> SessionFacts:
    """Session facts from the parsed values of one valid row of `schema`."""
    return _MAPPERS[schema.name](values)


def _language(values: dict[str, Any]) -> SessionFacts:
    return SessionFacts(
        **_common(values, SessionType.LANGUAGE, volunteer_column="volunteer_email"),
        language_level=values["language_level"] or "",
        topics=tuple(values["topics"] or ()),
        metadata=values.get("metadata"),
    )


def _mentorship(values: dict[str, Any]) -> SessionFacts:
    return SessionFacts(
        **_common(values, SessionType.MENTORSHIP, volunteer_column="mentor_email"),
        focus_area=values["focus_area"] or "",
        goals_discussed=tuple(values["goals_discussed"] or ()),
    )


def _legacy(values: dict[str, Any]) -> SessionFacts:
    rating = values["rating"]
    return SessionFacts(
        external_session_id=values["session_id"],
        session_type=values["session_type"],
        participant=Person(values["participant_email"]),
        volunteer=Person(values["volunteer_email"]),
        scheduled_at=values["date"],
        completed_at=values["date"],
        duration_minutes=values["duration_min"],
        rating=None if rating is None else normalise_five_star(rating),
        feedback_text=values["feedback_text"] or "",
        language_level=values["language_level"] or "",
    )


def _common(values: dict[str, Any], session_type: SessionType, *, volunteer_column: str) -> dict[str, Any]:
    return {
        "external_session_id": values["session_id"],
        "session_type": session_type,
        "participant": Person(values["participant_email"]),
        "volunteer": Person(values[volunteer_column]),
        "scheduled_at": values["scheduled_at"],
        "completed_at": values["completed_at"],
        "duration_minutes": values["duration_minutes"],
        "rating": values["rating"],
        "feedback_text": values["feedback_text"] or "",
    }


_MAPPERS: dict[str, Callable[[dict[str, Any]], SessionFacts]] = {
    LANGUAGE_V1_0.name: _language,
    MENTORSHIP_V1_0.name: _mentorship,
    LEGACY.name: _legacy,
}
