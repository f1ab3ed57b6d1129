"""The four Buddy record kinds as typed rows, each the same in a CSV export (v1.0, chosen by header)
and in a webhook's `data`, and the spec that names each kind's schema.

Columns marked ? are optional (an empty cell, or a null or empty JSON value, means "not given").
People are referenced by e-mail (trimmed, lower-cased); Buddy's own person ids are optional.

- `buddy_matches` (kind `matches`, key `match_id`): match_id (1-255), participant_email,
  participant_external_id?, participant_given_name?, participant_family_name?, buddy_email,
  buddy_external_id?, buddy_given_name?, buddy_family_name?, matched_at (ISO date-time or
  YYYY-MM-DD), status? (active | inactive | ended; default active), ended_at? (only when ended),
  languages? (comma-separated, ≤20), interests? (comma-separated, ≤50), location? (≤255).
- `buddy_events` (kind `events`, key `event_id`): event_id, match_id? (Buddy's match id; empty
  for group events), event_type (hangout | activity | workshop), event_date, description? (≤5000),
  location? (≤255), attendee_emails (comma-separated e-mails, 1-200).
- `buddy_checkins` (kind `checkins`, key `checkin_id`): checkin_id, match_id, person_email (the
  participant or the buddy of that match), checkin_date, mood (great | good | okay | struggling |
  difficult), notes? (≤5000), question_responses? (JSON object of question → answer, ≤50).
- `buddy_feedback` (kind `feedback`, key `feedback_id`): feedback_id, match_id, author_email (the
  participant or the buddy of that match), submitted_at, rating? (0-1), feedback_text? (≤5000),
  communication?, helpfulness?, engagement? (each 0-1); at least one of rating, text or scores.

In JSON, ids, e-mails, dates, choices and text are strings; rating and scores numbers; languages,
interests and attendee_emails arrays of strings; question_responses an object of question → answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

from services.buddy.domain.errors import UnknownKind
from services.buddy.domain.model import EventType, MatchStatus, Mood
from services.kit.connectors import cells, fields
from services.kit.connectors.cells import FieldInvalid
from services.kit.connectors.csvimport import Cell, Schema
from services.kit.connectors.payloads import Payload
from services.kit.errors import FieldViolation

MAX_QUESTIONS = 50
MAX_QUESTION_LENGTH = 500
MAX_ANSWER_LENGTH = 5000
MAX_ANSWERS_TEXT = 40_000


def answers(value: object) -> object:
    """Question responses: an object of question → answer, as (question, answer) pairs in order."""
    if isinstance(value, tuple):
        return value
    if not isinstance(value, dict):
        raise FieldInvalid("must be a JSON object of question to answer")
    if len(value) > MAX_QUESTIONS:
        raise FieldInvalid(f"must have at most {MAX_QUESTIONS} questions")
    return tuple(_answer(question, answer) for question, answer in value.items())


def _answer(question: str, answer: object) -> tuple[str, str]:
    question = question.strip()
    if not 1 <= len(question) <= MAX_QUESTION_LENGTH:
        raise FieldInvalid(f"questions must be 1-{MAX_QUESTION_LENGTH} characters")
    if not isinstance(answer, str) or len(answer) > MAX_ANSWER_LENGTH:
        raise FieldInvalid(f"the answer to {question[:40]!r} must be a string of at most {MAX_ANSWER_LENGTH}")
    return question, answer.strip()


def answers_text(value: str) -> object:
    """Question responses in a CSV cell: the same object as JSON text."""
    if len(value) > MAX_ANSWERS_TEXT:
        raise FieldInvalid(f"must be at most {MAX_ANSWERS_TEXT} characters")
    return answers(cells.json_text(value))


# Each type reads a JSON value (validators) and a CSV cell (Cell) by the same rules.
Id = Annotated[str, fields.line(255), Cell(cells.line(255))]
Email = Annotated[str, fields.EMAIL, Cell(cells.email)]
When = Annotated[datetime, fields.TIMESTAMP, Cell(cells.timestamp)]
OptionalId = Annotated[Annotated[str, fields.line(255)] | None, Cell(cells.line(255))]
Name = Annotated[Annotated[str, fields.line(200)] | None, Cell(cells.line(200))]
Location = Annotated[Annotated[str, fields.text(255)] | None, Cell(cells.text(255))]
LongText = Annotated[Annotated[str, fields.text(5000)] | None, Cell(cells.text(5000))]
OptionalWhen = Annotated[Annotated[datetime, fields.TIMESTAMP] | None, Cell(cells.timestamp)]
Score = Annotated[Annotated[float, fields.within(0, 1)] | None, Cell(cells.number(0, 1))]
Words = Annotated[tuple[Annotated[str, fields.text(50)], ...], fields.LIST, fields.distinct(20)]
Topics = Annotated[tuple[Annotated[str, fields.text(100)], ...], fields.LIST, fields.distinct(50)]
Emails = Annotated[tuple[Annotated[str, fields.EMAIL], ...], fields.LIST, fields.distinct(200)]
Answers = Annotated[tuple[tuple[str, str], ...], BeforeValidator(answers)]


class BuddyRow(Payload):
    """A Buddy record as a source reports it, before the rules that need its match are applied."""

    empty_means_absent = True

    @property
    def external_id(self) -> str:
        """Buddy's id of the record."""
        raise NotImplementedError

    @property
    def match_reference(self) -> str:
        """Buddy's id of the match the record belongs to ('' when none)."""
        return ""


class MatchRow(BuddyRow):
    """A participant matched with a volunteer buddy."""

    match_id: Id
    participant_email: Email
    participant_external_id: OptionalId = None
    participant_given_name: Name = None
    participant_family_name: Name = None
    buddy_email: Email
    buddy_external_id: OptionalId = None
    buddy_given_name: Name = None
    buddy_family_name: Name = None
    matched_at: When
    status: Annotated[Annotated[MatchStatus, fields.choice(MatchStatus)] | None, Cell(cells.choice(MatchStatus))] = None
    ended_at: OptionalWhen = None
    languages: Annotated[Words | None, Cell(cells.items(cells.text(50), max_items=20, max_length=1000))] = None
    interests: Annotated[Topics | None, Cell(cells.items(cells.text(100), max_items=50, max_length=2000))] = None
    location: Location = None

    @property
    def external_id(self) -> str:
        """Buddy's id of the match."""
        return self.match_id


class EventRow(BuddyRow):
    """An event attended by buddy pairs (a group event names no match)."""

    event_id: Id
    match_id: OptionalId = None
    event_type: Annotated[EventType, fields.choice(EventType), Cell(cells.choice(EventType))]
    event_date: When
    description: LongText = None
    location: Location = None
    attendee_emails: Annotated[Emails, Cell(cells.items(cells.email, max_items=200, max_length=60_000))]

    @property
    def external_id(self) -> str:
        """Buddy's id of the event."""
        return self.event_id

    @property
    def match_reference(self) -> str:
        """Buddy's id of the event's match ('' for a group event)."""
        return self.match_id or ""


class _OfMatch(BuddyRow):
    """A record by one member of a match."""

    match_id: Id

    @property
    def match_reference(self) -> str:
        """Buddy's id of the record's match."""
        return self.match_id


class CheckInRow(_OfMatch):
    """A check-in by the participant or the buddy of a match."""

    checkin_id: Id
    person_email: Email
    checkin_date: When
    mood: Annotated[Mood, fields.choice(Mood), Cell(cells.choice(Mood))]
    notes: LongText = None
    question_responses: Annotated[Answers | None, Cell(answers_text)] = None

    @property
    def external_id(self) -> str:
        """Buddy's id of the check-in."""
        return self.checkin_id


class FeedbackRow(_OfMatch):
    """Feedback by the participant or the buddy of a match."""

    feedback_id: Id
    author_email: Email
    submitted_at: When
    rating: Score = None
    feedback_text: LongText = None
    communication: Score = None
    helpfulness: Score = None
    engagement: Score = None

    @property
    def external_id(self) -> str:
        """Buddy's id of the feedback."""
        return self.feedback_id


@dataclass(frozen=True)
class RecordSpec:
    """A record kind: its path name, its CSV schema (v1.0) and the key naming a record."""

    kind: str
    schema: Schema[BuddyRow]

    @property
    def key(self) -> str:
        """The field holding Buddy's id of a record."""
        return self.schema.key[0]


SPECS = {
    spec.kind: spec
    for spec in (
        RecordSpec("matches", Schema("buddy_matches", "1.0", MatchRow, ("match_id",))),
        RecordSpec("events", Schema("buddy_events", "1.0", EventRow, ("event_id",))),
        RecordSpec("checkins", Schema("buddy_checkins", "1.0", CheckInRow, ("checkin_id",))),
        RecordSpec("feedback", Schema("buddy_feedback", "1.0", FeedbackRow, ("feedback_id",))),
    )
}


def spec_for(kind: str) -> RecordSpec:
    """The spec of a record kind named in a path; raises UnknownKind for anything else."""
    spec = SPECS.get(kind)
    if spec is None:
        expected = ", ".join(SPECS)
        raise UnknownKind(
            f"unknown record kind {kind[:40]!r}", violations=[FieldViolation("kind", f"must be one of {expected}")]
        )
    return spec
