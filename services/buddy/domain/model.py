"""Buddy records: matches, the events pairs attend, check-ins and feedback, with their provenance."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from services.kit.connectors.model import Person, Provenance


class MatchStatus(StrEnum):
    """Lifecycle of a match."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    ENDED = "ended"


class EventType(StrEnum):
    """Kinds of buddy event."""

    HANGOUT = "hangout"
    ACTIVITY = "activity"
    WORKSHOP = "workshop"


class Mood(StrEnum):
    """Mood reported in a check-in."""

    GREAT = "great"
    GOOD = "good"
    OKAY = "okay"
    STRUGGLING = "struggling"
    DIFFICULT = "difficult"


class Side(StrEnum):
    """Which side of a match a person is on."""

    PARTICIPANT = "participant"
    BUDDY = "buddy"


@dataclass(frozen=True)
class Record:
    """What every Buddy record carries: platform id, company, the source's id and bookkeeping."""

    record_id: str
    company_id: str
    external_id: str
    provenance: Provenance
    created_at: datetime
    updated_at: datetime

    @property
    def occurred_at(self) -> datetime:
        """The time the record is ordered and filtered by."""
        return self.created_at

    def identity(self) -> dict[str, object]:
        """Fields that may never change once stored (who the record is about), by input field name."""
        return {}


@dataclass(frozen=True)
class Match(Record):
    """A participant matched with a volunteer buddy."""

    participant: Person
    buddy: Person
    matched_at: datetime
    status: MatchStatus
    languages: tuple[str, ...]
    interests: tuple[str, ...]
    location: str
    ended_at: datetime | None

    @property
    def occurred_at(self) -> datetime:
        """The time the record is ordered and filtered by."""
        return self.matched_at

    def identity(self) -> dict[str, object]:
        return {"participant_email": self.participant.email, "buddy_email": self.buddy.email}

    def side_of(self, email: str) -> Side | None:
        """The side of the match this e-mail is on, if any."""
        if email == self.participant.email:
            return Side.PARTICIPANT
        return Side.BUDDY if email == self.buddy.email else None

    def person(self, email: str) -> Person:
        """The match member with this e-mail, else a bare reference."""
        side = self.side_of(email)
        if side is None:
            return Person(email)
        return self.participant if side is Side.PARTICIPANT else self.buddy


@dataclass(frozen=True)
class BuddyEvent(Record):
    """An event attended by buddy pairs; `match_id` is empty for group events."""

    match_id: str
    event_type: EventType
    event_at: datetime
    description: str
    location: str
    attendees: tuple[Person, ...]

    @property
    def occurred_at(self) -> datetime:
        """The time the record is ordered and filtered by."""
        return self.event_at

    def identity(self) -> dict[str, object]:
        return {"match_id": self.match_id, "attendee_emails": tuple(p.email for p in self.attendees)}


@dataclass(frozen=True)
class CheckIn(Record):
    """A check-in by one member of a match."""

    match_id: str
    person: Person
    side: Side
    checkin_at: datetime
    mood: Mood
    notes: str
    answers: tuple[tuple[str, str], ...]

    @property
    def occurred_at(self) -> datetime:
        """The time the record is ordered and filtered by."""
        return self.checkin_at

    def identity(self) -> dict[str, object]:
        return {"match_id": self.match_id, "person_email": self.person.email}


@dataclass(frozen=True)
class Feedback(Record):
    """Feedback on a match by its participant or its buddy; scores are 0-1."""

    match_id: str
    author: Person
    side: Side
    submitted_at: datetime
    rating: float | None
    text: str
    communication: float | None
    helpfulness: float | None
    engagement: float | None

    @property
    def occurred_at(self) -> datetime:
        """The time the record is ordered and filtered by."""
        return self.submitted_at

    def identity(self) -> dict[str, object]:
        return {"match_id": self.match_id, "author_email": self.author.email}


R = TypeVar("R", bound=Record)
_BOOKKEEPING = frozenset({"record_id", "provenance", "created_at", "updated_at"})


def content(record: Record) -> dict[str, object]:
    """What a record says, without the platform's bookkeeping (for telling a replay from a change)."""
    return {f.name: getattr(record, f.name) for f in fields(record) if f.name not in _BOOKKEEPING}


def revised(existing: R, incoming: R, *, now: datetime) -> R:
    """`incoming`'s content under `existing`'s platform id and creation time."""
    return replace(incoming, record_id=existing.record_id, created_at=existing.created_at, updated_at=now)
