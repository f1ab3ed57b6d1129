"""The buddy service's SQL tables and the mapping between their rows and the domain records."""

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

metadata = sa.MetaData()
Row = sa.RowMapping
When = sa.DateTime(timezone=True)


def _record_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    ]


def _person_columns(prefix: str) -> list[sa.Column[Any]]:
    return [
        sa.Column(f"{prefix}_email", sa.String(255), nullable=False),
        sa.Column(f"{prefix}_external_id", sa.String(255), nullable=False),
        sa.Column(f"{prefix}_given_name", sa.String(200), nullable=False),
        sa.Column(f"{prefix}_family_name", sa.String(200), nullable=False),
    ]


def _unique(name: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint("company_id", "external_id", name=f"uq_{name}_company_external")


matches = sa.Table(
    "buddy_matches",
    metadata,
    *_record_columns(),
    *_person_columns("participant"),
    *_person_columns("buddy"),
    sa.Column("matched_at", When, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("languages", sa.Text, nullable=False),
    sa.Column("interests", sa.Text, nullable=False),
    sa.Column("location", sa.String(255), nullable=False),
    sa.Column("ended_at", When, nullable=True),
    _unique("buddy_matches"),
    sa.Index("ix_buddy_matches_participant", "company_id", "participant_email"),
    sa.Index("ix_buddy_matches_buddy", "company_id", "buddy_email"),
    sa.Index("ix_buddy_matches_time", "company_id", "matched_at"),
)
events = sa.Table(
    "buddy_events",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(10), nullable=False),
    sa.Column("event_at", When, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("location", sa.String(255), nullable=False),
    sa.Column("attendees", sa.Text, nullable=False),
    _unique("buddy_events"),
    sa.Index("ix_buddy_events_match", "company_id", "match_id"),
    sa.Index("ix_buddy_events_time", "company_id", "event_at"),
)
checkins = sa.Table(
    "buddy_checkins",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    *_person_columns("person"),
    sa.Column("side", sa.String(12), nullable=False),
    sa.Column("checkin_at", When, nullable=False),
    sa.Column("mood", sa.String(12), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("answers", sa.Text, nullable=False),
    _unique("buddy_checkins"),
    sa.Index("ix_buddy_checkins_match", "company_id", "match_id"),
    sa.Index("ix_buddy_checkins_time", "company_id", "checkin_at"),
)
feedback = sa.Table(
    "buddy_feedback",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    *_person_columns("author"),
    sa.Column("side", sa.String(12), nullable=False),
    sa.Column("submitted_at", When, nullable=False),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("communication", sa.Float, nullable=True),
    sa.Column("helpfulness", sa.Float, nullable=True),
    sa.Column("engagement", sa.Float, nullable=True),
    _unique("buddy_feedback"),
    sa.Index("ix_buddy_feedback_match", "company_id", "match_id"),
    sa.Index("ix_buddy_feedback_time", "company_id", "submitted_at"),
)
deliveries = sa.Table(
    "buddy_webhook_deliveries",
    metadata,
    sa.Column("company_id", sa.String(63), primary_key=True),
    sa.Column("delivery_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("received_at", When, nullable=False),
)


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


def _person_row(prefix: str, person: Person) -> dict[str, str]:
    return {f"{prefix}_{name}": value for name, value in vars(person).items()}


def _person(row: Row, prefix: str) -> Person:
    return Person(*(row[f"{prefix}_{name}"] for name in ("email", "external_id", "given_name", "family_name")))


def _match_row(m: Match) -> dict[str, Any]:
    return {
        **_base_row(m),
        **_person_row("participant", m.participant),
        **_person_row("buddy", m.buddy),
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
        **_person_row("person", c.person),
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
        **_person_row("author", f.author),
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
    """How one record kind is kept: its table, the time it is ordered by, and its row mapping."""

    table: sa.Table
    time: str
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Row], Record]
    person: str = ""


STORES = {
    "matches": Store(matches, "matched_at", _match_row, _match),
    "events": Store(events, "event_at", _event_row, _event),
    "checkins": Store(checkins, "checkin_at", _checkin_row, _checkin, person="person"),
    "feedback": Store(feedback, "submitted_at", _feedback_row, _feedback, person="author"),
}
KIND_OF: dict[type[Record], str] = {Match: "matches", BuddyEvent: "events", CheckIn: "checkins", Feedback: "feedback"}
