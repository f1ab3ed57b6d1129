"""Rows of the buddy tables ⇄ domain records, and how each record kind is stored and filtered."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from services.buddy.domain.model import (
    BuddyEvent,
    Channel,
    CheckIn,
    EventType,
    Feedback,
    Match,
    MatchStatus,
    Mood,
    Person,
    Provenance,
    Record,
    Side,
)
from services.buddy.tables import checkins, events, feedback, matches
from services.kit.identity import profile_id_for_email

Row = sa.RowMapping


def utc(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite drops the zone; every stored time is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _base_row(record: Record) -> dict[str, Any]:
    origin = record.provenance
    return {
        "record_id": record.record_id,
        "company_id": record.company_id,
        "external_id": record.external_id,
        "channel": origin.channel.value,
        "batch_id": origin.batch_id,
        "delivery_id": origin.delivery_id,
        "received_at": origin.received_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _base(row: Row) -> dict[str, Any]:
    origin = Provenance(Channel(row["channel"]), utc(row["received_at"]), row["batch_id"], row["delivery_id"])
    return {
        "record_id": row["record_id"],
        "company_id": row["company_id"],
        "external_id": row["external_id"],
        "provenance": origin,
        "created_at": utc(row["created_at"]),
        "updated_at": utc(row["updated_at"]),
    }


def profile_id_of(company_id: str, email: str) -> str:
    """The unified profile id of the person with this e-mail in this company ('' without an e-mail).

    Stored next to each e-mail so that records can be listed by profile without a call to the
    profile service; the migration that added the columns derives it the same way."""
    return profile_id_for_email(company_id, email) if email.strip() else ""


def _person_row(prefix: str, person: Person, company_id: str) -> dict[str, str]:
    row = {f"{prefix}_{name}": value for name, value in vars(person).items()}
    return row | {f"{prefix}_profile_id": profile_id_of(company_id, person.email)}


def attendee_rows(event: BuddyEvent) -> list[dict[str, str]]:
    """One `buddy_event_attendees` row per distinct attendee profile of the event."""
    ids = {profile_id_of(event.company_id, person.email) for person in event.attendees} - {""}
    return [{"event_id": event.record_id, "profile_id": i, "company_id": event.company_id} for i in sorted(ids)]


def _person(row: Row, prefix: str) -> Person:
    return Person(*(row[f"{prefix}_{name}"] for name in ("email", "external_id", "given_name", "family_name")))


def _match_row(m: Match) -> dict[str, Any]:
    return {
        **_base_row(m),
        **_person_row("participant", m.participant, m.company_id),
        **_person_row("buddy", m.buddy, m.company_id),
        "matched_at": m.matched_at,
        "status": m.status.value,
        "languages": json.dumps(m.languages),
        "interests": json.dumps(m.interests),
        "location": m.location,
        "ended_at": m.ended_at,
    }


def _match(row: Row) -> Match:
    return Match(
        **_base(row),
        participant=_person(row, "participant"),
        buddy=_person(row, "buddy"),
        matched_at=utc(row["matched_at"]),
        status=MatchStatus(row["status"]),
        languages=tuple(json.loads(row["languages"])),
        interests=tuple(json.loads(row["interests"])),
        location=row["location"],
        ended_at=utc(row["ended_at"]) if row["ended_at"] else None,
    )


def _event_row(e: BuddyEvent) -> dict[str, Any]:
    attendees = json.dumps([vars(p) for p in e.attendees])
    return {
        **_base_row(e),
        "match_id": e.match_id,
        "event_type": e.event_type.value,
        "event_at": e.event_at,
        "description": e.description,
        "location": e.location,
        "attendees": attendees,
    }


def _event(row: Row) -> BuddyEvent:
    return BuddyEvent(
        **_base(row),
        match_id=row["match_id"],
        event_type=EventType(row["event_type"]),
        event_at=utc(row["event_at"]),
        description=row["description"],
        location=row["location"],
        attendees=tuple(Person(**p) for p in json.loads(row["attendees"])),
    )


def _checkin_row(c: CheckIn) -> dict[str, Any]:
    return {
        **_base_row(c),
        **_person_row("person", c.person, c.company_id),
        "match_id": c.match_id,
        "side": c.side.value,
        "checkin_at": c.checkin_at,
        "mood": c.mood.value,
        "notes": c.notes,
        "answers": json.dumps(c.answers),
    }


def _checkin(row: Row) -> CheckIn:
    return CheckIn(
        **_base(row),
        match_id=row["match_id"],
        person=_person(row, "person"),
        side=Side(row["side"]),
        checkin_at=utc(row["checkin_at"]),
        mood=Mood(row["mood"]),
        notes=row["notes"],
        answers=tuple((q, a) for q, a in json.loads(row["answers"])),
    )


_SCORES = ("rating", "communication", "helpfulness", "engagement")


def _feedback_row(f: Feedback) -> dict[str, Any]:
    scores = {name: getattr(f, name) for name in _SCORES}
    return {
        **_base_row(f),
        **_person_row("author", f.author, f.company_id),
        **scores,
        "match_id": f.match_id,
        "side": f.side.value,
        "submitted_at": f.submitted_at,
        "text": f.text,
    }


def _feedback(row: Row) -> Feedback:
    return Feedback(
        **_base(row),
        **{name: row[name] for name in _SCORES},
        match_id=row["match_id"],
        author=_person(row, "author"),
        side=Side(row["side"]),
        submitted_at=utc(row["submitted_at"]),
        text=row["text"],
    )


@dataclass(frozen=True)
class Store:
    """How one record kind is kept: its table, the time it is ordered by, its row mapping, the person
    column group an e-mail filter reads (`person`) and those a profile filter reads (`people`; none for
    events, whose attendees are in `buddy_event_attendees`)."""

    table: sa.Table
    time: str
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Row], Record]
    person: str = ""
    people: tuple[str, ...] = ()


STORES = {
    "matches": Store(matches, "matched_at", _match_row, _match, people=("participant", "buddy")),
    "events": Store(events, "event_at", _event_row, _event),
    "checkins": Store(checkins, "checkin_at", _checkin_row, _checkin, person="person", people=("person",)),
    "feedback": Store(feedback, "submitted_at", _feedback_row, _feedback, person="author", people=("author",)),
}
KIND_OF: dict[type[Record], str] = {Match: "matches", BuddyEvent: "events", CheckIn: "checkins", Feedback: "feedback"}
