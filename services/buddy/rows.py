"""Rows of the buddy tables ⇄ domain records, and how each record kind is stored and filtered."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from services.buddy.domain.model import BuddyEvent, CheckIn, EventType, Feedback, Match, MatchStatus, Mood, Record, Side
from services.buddy.tables import ATTENDEE_FIELDS, checkins, events, feedback, matches
from services.kit.connectors.model import Channel, Person, Provenance
from services.kit.connectors.storage import person_of, person_row, profile_id_of

Row = sa.RowMapping | Mapping[str, Any]


def _base_row(record: Record) -> dict[str, object]:
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


def _head(row: Row) -> tuple[str, str, str, Provenance, datetime, datetime]:
    """The common fields of a stored record, in `Record`'s order."""
    origin = Provenance(Channel(row["channel"]), row["received_at"], row["batch_id"], row["delivery_id"])
    return row["record_id"], row["company_id"], row["external_id"], origin, row["created_at"], row["updated_at"]


def attendee_rows(company_id: str, event_id: str, people: Sequence[Person]) -> list[dict[str, object]]:
    """One `buddy_event_attendees` row per distinct attendee profile of an event, in the event's order,
    with the attendee as the event names them (plain: services/buddy/sealing.py seals them)."""
    found: list[dict[str, object]] = []
    seen: set[str] = set()
    for person in people:
        profile_id = profile_id_of(company_id, person.email)
        if not profile_id or profile_id in seen:
            continue
        seen.add(profile_id)
        named = {name: getattr(person, name) for name in ATTENDEE_FIELDS}
        found.append({"event_id": event_id, "profile_id": profile_id, "company_id": company_id} | named)
        found[-1]["position"] = len(found) - 1
    return found


def people_of(attendees: str) -> tuple[Person, ...]:
    """The attendees an event row's JSON list names (rows written before sealing)."""
    return tuple(Person(**p) for p in json.loads(attendees or "[]"))


def attendees_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """An event's attendee list, as `buddy_events.attendees` held it before sealing, from its attendee rows."""
    ordered = sorted(rows, key=lambda row: (row["position"], row["profile_id"]))
    return json.dumps([{name: row[name] for name in ATTENDEE_FIELDS} for row in ordered])


def _match_row(m: Match) -> dict[str, object]:
    return {
        **_base_row(m),
        **person_row("participant", m.participant, m.company_id),
        **person_row("buddy", m.buddy, m.company_id),
        "matched_at": m.matched_at,
        "status": m.status.value,
        "languages": json.dumps(m.languages),
        "interests": json.dumps(m.interests),
        "location": m.location,
        "ended_at": m.ended_at,
    }


def _match(row: Row) -> Match:
    return Match(
        *_head(row),
        participant=person_of(row, "participant"),
        buddy=person_of(row, "buddy"),
        matched_at=row["matched_at"],
        status=MatchStatus(row["status"]),
        languages=tuple(json.loads(row["languages"])),
        interests=tuple(json.loads(row["interests"])),
        location=row["location"],
        ended_at=row["ended_at"],
    )


def _event_row(e: BuddyEvent) -> dict[str, object]:
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
        *_head(row),
        match_id=row["match_id"],
        event_type=EventType(row["event_type"]),
        event_at=row["event_at"],
        description=row["description"],
        location=row["location"],
        attendees=people_of(row["attendees"]),
    )


def _checkin_row(c: CheckIn) -> dict[str, object]:
    return {
        **_base_row(c),
        **person_row("person", c.person, c.company_id),
        "match_id": c.match_id,
        "side": c.side.value,
        "checkin_at": c.checkin_at,
        "mood": c.mood.value,
        "notes": c.notes,
        "answers": json.dumps(c.answers),
    }


def _checkin(row: Row) -> CheckIn:
    return CheckIn(
        *_head(row),
        match_id=row["match_id"],
        person=person_of(row, "person"),
        side=Side(row["side"]),
        checkin_at=row["checkin_at"],
        mood=Mood(row["mood"]),
        notes=row["notes"],
        answers=tuple((q, a) for q, a in json.loads(row["answers"] or "[]")),
    )


_SCORES = ("rating", "communication", "helpfulness", "engagement")


def _feedback_row(f: Feedback) -> dict[str, object]:
    scores = {name: getattr(f, name) for name in _SCORES}
    return {
        **_base_row(f),
        **person_row("author", f.author, f.company_id),
        **scores,
        "match_id": f.match_id,
        "side": f.side.value,
        "submitted_at": f.submitted_at,
        "text": f.text,
    }


def _feedback(row: Row) -> Feedback:
    return Feedback(
        *_head(row),
        rating=row["rating"],
        communication=row["communication"],
        helpfulness=row["helpfulness"],
        engagement=row["engagement"],
        match_id=row["match_id"],
        author=person_of(row, "author"),
        side=Side(row["side"]),
        submitted_at=row["submitted_at"],
        text=row["text"],
    )


def record_row(record: Record) -> dict[str, object]:
    """The row of a record in its kind's table."""
    if isinstance(record, Match):
        return _match_row(record)
    if isinstance(record, BuddyEvent):
        return _event_row(record)
    if isinstance(record, CheckIn):
        return _checkin_row(record)
    if isinstance(record, Feedback):
        return _feedback_row(record)
    raise TypeError(f"no table for {type(record).__name__}")


@dataclass(frozen=True)
class Store:
    """How one record kind is kept: its table, the time it is ordered by, its row mapping, the person
    column group an e-mail filter reads (`person`) and those a profile filter reads (`people`; none for
    events, whose attendees are in `buddy_event_attendees`)."""

    table: sa.Table
    time: str
    from_row: Callable[[Row], Record]
    person: str = ""
    people: tuple[str, ...] = ()


STORES = {
    "matches": Store(matches, "matched_at", _match, people=("participant", "buddy")),
    "events": Store(events, "event_at", _event),
    "checkins": Store(checkins, "checkin_at", _checkin, person="person", people=("person",)),
    "feedback": Store(feedback, "submitted_at", _feedback, person="author", people=("author",)),
}
KIND_OF: dict[type[Record], str] = {Match: "matches", BuddyEvent: "events", CheckIn: "checkins", Feedback: "feedback"}
