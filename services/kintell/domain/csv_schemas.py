"""The Kintell CSV exports this connector reads, each recognised by its exact header set, as typed
rows that know the session facts they report.

The legacy (pre-versioning) export only ever listed sessions that took place, so its `date` is
both the scheduled and the completion time, and its 1-5 rating is stored as (r - 1) / 4.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from services.kintell.domain.model import CEFR_LEVELS, SessionFacts, SessionType, normalise_five_star
from services.kit.connectors import cells, csvimport
from services.kit.connectors.csvimport import Cell, Parsed, RowError, Schema
from services.kit.connectors.model import Person

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
        raise cells.FieldInvalid(f"must be one of {', '.join(CEFR_LEVELS)}")
    return level


def legacy_session_type(value: str) -> SessionType:
    """The legacy export's free-text session type: anything naming "language" or "mentor"."""
    lowered = value.lower()
    if "language" in lowered:
        return SessionType.LANGUAGE
    if "mentor" in lowered:
        return SessionType.MENTORSHIP
    raise cells.FieldInvalid('must contain "language" or "mentor"')


Id = Annotated[str, Cell(cells.line(MAX_ID))]
Email = Annotated[str, Cell(cells.email)]
When = Annotated[datetime, Cell(cells.timestamp)]
OptionalWhen = Annotated[datetime | None, Cell(cells.timestamp)]
Duration = Annotated[int | None, Cell(cells.integer(1, MAX_DURATION))]
Feedback = Annotated[str | None, Cell(cells.text(MAX_FEEDBACK))]
Level = Annotated[str | None, Cell(cefr_level)]
Listing = Annotated[tuple[str, ...] | None, Cell(cells.listing(MAX_LIST))]


class SessionRow(BaseModel):
    """A valid row of a Kintell export."""

    model_config = ConfigDict(frozen=True)

    def facts(self) -> SessionFacts:
        """What the row says about its session."""
        raise NotImplementedError


class _CurrentRow(SessionRow):
    """The columns the versioned exports share."""

    session_id: Id
    participant_email: Email
    scheduled_at: When
    completed_at: OptionalWhen = None
    duration_minutes: Duration = None
    rating: Annotated[float | None, Cell(cells.number(0, 1))] = None
    feedback_text: Feedback = None

    def _facts(self, session_type: SessionType, volunteer: str, **reported: Any) -> SessionFacts:
        # Built in one call with the schema's own columns (`reported`): no copy per row.
        return SessionFacts(
            external_session_id=self.session_id,
            session_type=session_type,
            participant=Person(self.participant_email),
            volunteer=Person(volunteer),
            scheduled_at=self.scheduled_at,
            completed_at=self.completed_at,
            duration_minutes=self.duration_minutes,
            rating=self.rating,
            feedback_text=self.feedback_text or "",
            **reported,
        )


class LanguageRow(_CurrentRow):
    """`language_session` v1.0."""

    volunteer_email: Email
    language_level: Level = None
    topics: Listing = None

    def facts(self) -> SessionFacts:
        """A language session with its level and topics."""
        return self._language(metadata=None)

    def _language(self, **reported: Any) -> SessionFacts:
        level, topics = self.language_level or "", self.topics or ()
        return self._facts(SessionType.LANGUAGE, self.volunteer_email, language_level=level, topics=topics, **reported)


class LanguageRowV11(LanguageRow):
    """`language_session` v1.1: v1.0 plus a metadata object."""

    metadata: Annotated[dict[str, object] | None, Cell(cells.json_object(MAX_METADATA))] = None

    def facts(self) -> SessionFacts:
        """A language session with its level, topics and metadata."""
        return self._language(metadata=self.metadata)


class MentorshipRow(_CurrentRow):
    """`mentorship_session` v1.0."""

    mentor_email: Email
    focus_area: Annotated[str | None, Cell(cells.text(MAX_FOCUS_AREA))] = None
    goals_discussed: Listing = None

    def facts(self) -> SessionFacts:
        """A mentorship session with its focus and goals."""
        focus, goals = self.focus_area or "", self.goals_discussed or ()
        return self._facts(SessionType.MENTORSHIP, self.mentor_email, focus_area=focus, goals_discussed=goals)


class LegacyRow(SessionRow):
    """The legacy export (version "0")."""

    session_id: Id
    session_type: Annotated[SessionType, Cell(legacy_session_type)]
    participant_email: Email
    volunteer_email: Email
    date: When
    duration_min: Duration = None
    rating: Annotated[float | None, Cell(cells.number(1, 5))] = None
    feedback_text: Feedback = None
    language_level: Level = None

    def facts(self) -> SessionFacts:
        """A session that took place on `date`, its 1-5 rating on the 0-1 scale."""
        return SessionFacts(
            external_session_id=self.session_id,
            session_type=self.session_type,
            participant=Person(self.participant_email),
            volunteer=Person(self.volunteer_email),
            scheduled_at=self.date,
            completed_at=self.date,
            duration_minutes=self.duration_min,
            rating=None if self.rating is None else normalise_five_star(self.rating),
            feedback_text=self.feedback_text or "",
            language_level=self.language_level or "",
        )


KEY = ("session_id",)
LANGUAGE_V1_0 = Schema("language_session", "1.0", LanguageRow, KEY)
LANGUAGE_V1_1 = Schema("language_session", "1.1", LanguageRowV11, KEY)
MENTORSHIP_V1_0 = Schema("mentorship_session", "1.0", MentorshipRow, KEY)
LEGACY = Schema("legacy_export", "0", LegacyRow, KEY)
SCHEMAS: tuple[Schema[SessionRow], ...] = (LANGUAGE_V1_0, LANGUAGE_V1_1, MENTORSHIP_V1_0, LEGACY)


def parse(data: bytes) -> Parsed[SessionRow]:
    """Parses a Kintell export; a completion before its schedule quarantines the row."""
    parsed = csvimport.parse(data, SCHEMAS)
    early = {row.number: [error] for row in parsed.valid if (error := _early_completion(row.number, row.raw))}
    return parsed.quarantine(early)


def _early_completion(number: int, raw: Mapping[str, str]) -> RowError | None:
    scheduled, completed = raw.get("scheduled_at", "").strip(), raw.get("completed_at", "").strip()
    if not scheduled or not completed:
        return None
    at, done = cells.timestamp(scheduled), cells.timestamp(completed)
    # A bare date means "that day": it is only early when the day itself is earlier.
    early = done.date() < at.date() if DATE_LENGTH in (len(scheduled), len(completed)) else done < at
    return RowError(number, "completed_at", "must not be before scheduled_at", raw["completed_at"]) if early else None
