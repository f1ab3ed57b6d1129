"""The four Buddy record kinds and their versioned CSV schemas (one per kind, chosen by header).

Every schema is v1.0; columns marked ? are optional (an empty cell means "not given").
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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from services.buddy.domain.errors import UnknownKind
from services.buddy.domain.fields import Answers, Choice, Email, FieldKind, Listing, Score, Text, Timestamp
from services.buddy.domain.model import EventType, MatchStatus, Mood
from services.kit.connectors import csvimport
from services.kit.errors import FieldViolation

ID = Text(255)
NAME = Text(200)
LOCATION = Text(255)
LONG_TEXT = Text(5000)
EMAIL = Email()
WHEN = Timestamp()
SCORE = Score()


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record kind, the same in CSV and in webhook JSON."""

    name: str
    kind: FieldKind
    required: bool = True


@dataclass(frozen=True)
class RecordSpec:
    """A record kind: its path name, CSV schema name and version, key field and fields."""

    kind: str
    schema: str
    version: str
    key: str
    fields: tuple[FieldSpec, ...]
    match_field: str = "match_id"

    @cached_property
    def csv_schema(self) -> csvimport.Schema:
        """The CSV layout of this kind."""
        columns = tuple(csvimport.Column(f.name, f.kind.from_text, f.required) for f in self.fields)
        return csvimport.Schema(self.schema, self.version, columns, key=self.key)


def _person(prefix: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(f"{prefix}_email", EMAIL),
        FieldSpec(f"{prefix}_external_id", ID, required=False),
        FieldSpec(f"{prefix}_given_name", NAME, required=False),
        FieldSpec(f"{prefix}_family_name", NAME, required=False),
    )


MATCHES = RecordSpec(
    "matches",
    "buddy_matches",
    "1.0",
    "match_id",
    (
        FieldSpec("match_id", ID),
        *_person("participant"),
        *_person("buddy"),
        FieldSpec("matched_at", WHEN),
        FieldSpec("status", Choice(tuple(MatchStatus)), required=False),
        FieldSpec("ended_at", WHEN, required=False),
        FieldSpec("languages", Listing(Text(50), 20, 1000), required=False),
        FieldSpec("interests", Listing(Text(100), 50, 2000), required=False),
        FieldSpec("location", LOCATION, required=False),
    ),
    match_field="",
)
EVENTS = RecordSpec(
    "events",
    "buddy_events",
    "1.0",
    "event_id",
    (
        FieldSpec("event_id", ID),
        FieldSpec("match_id", ID, required=False),
        FieldSpec("event_type", Choice(tuple(EventType))),
        FieldSpec("event_date", WHEN),
        FieldSpec("description", LONG_TEXT, required=False),
        FieldSpec("location", LOCATION, required=False),
        FieldSpec("attendee_emails", Listing(EMAIL, 200, 60_000)),
    ),
)
CHECKINS = RecordSpec(
    "checkins",
    "buddy_checkins",
    "1.0",
    "checkin_id",
    (
        FieldSpec("checkin_id", ID),
        FieldSpec("match_id", ID),
        FieldSpec("person_email", EMAIL),
        FieldSpec("checkin_date", WHEN),
        FieldSpec("mood", Choice(tuple(Mood))),
        FieldSpec("notes", LONG_TEXT, required=False),
        FieldSpec("question_responses", Answers(), required=False),
    ),
)
FEEDBACK = RecordSpec(
    "feedback",
    "buddy_feedback",
    "1.0",
    "feedback_id",
    (
        FieldSpec("feedback_id", ID),
        FieldSpec("match_id", ID),
        FieldSpec("author_email", EMAIL),
        FieldSpec("submitted_at", WHEN),
        FieldSpec("rating", SCORE, required=False),
        FieldSpec("feedback_text", LONG_TEXT, required=False),
        FieldSpec("communication", SCORE, required=False),
        FieldSpec("helpfulness", SCORE, required=False),
        FieldSpec("engagement", SCORE, required=False),
    ),
)
SPECS = {spec.kind: spec for spec in (MATCHES, EVENTS, CHECKINS, FEEDBACK)}


def spec_for(kind: str) -> RecordSpec:
    """The spec of a record kind named in a path; raises UnknownKind for anything else."""
    spec = SPECS.get(kind)
    if spec is None:
        expected = ", ".join(SPECS)
        raise UnknownKind(
            f"unknown record kind {kind[:40]!r}", violations=[FieldViolation("kind", f"must be one of {expected}")]
        )
    return spec
