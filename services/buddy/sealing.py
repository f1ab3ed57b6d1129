"""The Buddy service's personal fields at rest: each match, check-in and feedback person's e-mail, Buddy
id and names sealed with that person's key (subject = `<role>_profile_id`), a match's location with its
participant's; quarantined CSV rows with the keys of every person they name (services/kit/connectors/
imports.py); what a person wrote with their key: a check-in's notes and answers with its person's, a
feedback's text with its author's, an event's description and location with its match's participant's
(`writer_profile_id`; a group event has no match, so no person of ours wrote it: it is sealed with the
company's key, subject "").

An event names several people: `buddy_events.attendees` held their e-mails and names in one JSON list.
Sealed with one person's key, erasing any other attendee would leave their e-mail readable inside it;
so the list is rebuilt from the attendee rows instead: each attendee's row in `buddy_event_attendees`
holds their e-mail, Buddy id and names sealed with their own key (bound to their profile id) and their
place in the list, and `buddy_events.attendees` holds only the marker `ATTENDEE_ROWS` (no identifier
at all). Erasing one attendee deletes their row and shreds their key; the other attendees of the same
event stay readable, and the event lists them without the erased one.

Rows written before sealing keep their plain values (and their JSON attendee list) until the online
migration (`seal_batch`) seals them; reads open both forms, and look-ups by e-mail compare the profile
id columns (services/kit/connectors/sealing.py), never a sealed value. `unseal_batch` writes every
sealed row back in plain text, the attendee list included, before a downgrade below revision 0007.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.buddy import rows
from services.buddy.tables import ATTENDEE_FIELDS, checkins, event_attendees, events, feedback, matches
from services.kit.connectors.imports import QUARANTINE
from services.kit.connectors.model import Person
from services.kit.connectors.sealing import BATCH, Row, SealedTable, seal_all, unseal_all
from services.kit.security.pii import PiiCipher

# `buddy_events.attendees` of a sealed event: its attendees are its rows in `buddy_event_attendees`.
ATTENDEE_ROWS = "buddy_event_attendees"

MATCHES = SealedTable.of(
    matches, record="record_id", persons=("participant", "buddy"), texts={"location": "participant_profile_id"}
)
CHECKINS = SealedTable.of(
    checkins,
    record="record_id",
    persons=("person",),
    texts=dict.fromkeys(("notes", "answers"), "person_profile_id"),
)
FEEDBACK = SealedTable.of(feedback, record="record_id", persons=("author",), texts={"text": "author_profile_id"})


# Attendee rows: keyed by (event, profile id), each value bound to the attendee's profile id.
ATTENDEES = SealedTable.of(
    event_attendees,
    record="profile_id",
    texts=dict.fromkeys(ATTENDEE_FIELDS, "profile_id"),
    key=("event_id", "profile_id"),
)


class _Events(SealedTable):
    """Events: their texts sealed with the writer's key, their attendee list moved into attendee rows."""

    def plain(self) -> sa.ColumnElement[bool]:
        return sa.or_(super().plain(), events.c.attendees != ATTENDEE_ROWS)

    def sealed(self) -> sa.ColumnElement[bool]:
        return sa.or_(super().sealed(), events.c.attendees == ATTENDEE_ROWS)

    def seal_batch(self, session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
        found = self.read(session, self.plain(), batch)
        for row in found:
            people = rows.people_of(row["attendees"]) if row["attendees"] != ATTENDEE_ROWS else None
            write_event(session, cipher, row, people, insert=False)
        return len(found)

    def unseal_batch(self, session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
        found = self.read(session, self.sealed(), batch)
        for row in found:
            opened = opened_events(session, cipher, [row])[0]
            values = {c: opened[c] for c in (*self.columns, "attendees")}
            session.execute(events.update().where(events.c.record_id == row["record_id"]).values(**values))
        return len(found)


EVENTS = _Events.of(events, record="record_id", texts=dict.fromkeys(("description", "location"), "writer_profile_id"))
# By record kind (services/buddy/rows.STORES).
BY_KIND = {"matches": MATCHES, "events": EVENTS, "checkins": CHECKINS, "feedback": FEEDBACK}
TABLES = (MATCHES, CHECKINS, FEEDBACK, EVENTS, ATTENDEES, QUARANTINE)


def write_event(
    session: orm.Session, cipher: PiiCipher, row: Row, attendees: Sequence[Person] | None, *, insert: bool
) -> None:
    """Stores an event's row (inserted or updated) with its texts sealed with its writer's key and its
    attendees in their own rows, each sealed with the attendee's key; `attendees` None keeps the stored
    attendee rows (sealed where they are not yet)."""
    company, record = row["company_id"], row["record_id"]
    writer = row.get("writer_profile_id") or _participant_of(session, company, row["match_id"])
    sealed = EVENTS.seal(session, cipher, {**row, "writer_profile_id": writer, "attendees": ATTENDEE_ROWS})
    if insert:
        session.execute(events.insert().values(**sealed))
    else:
        this = sa.and_(events.c.company_id == company, events.c.record_id == record)
        session.execute(events.update().where(this).values(**sealed))
    of_event = sa.and_(event_attendees.c.company_id == company, event_attendees.c.event_id == record)
    if attendees is None:
        stored = session.execute(sa.select(event_attendees).where(of_event)).mappings().all()
        ATTENDEES.write(session, ATTENDEES.seal_rows(session, cipher, stored))
        return
    session.execute(event_attendees.delete().where(of_event))
    people = rows.attendee_rows(company, record, attendees)
    if people:
        session.execute(event_attendees.insert(), ATTENDEES.seal_rows(session, cipher, people))


def opened_events(session: orm.Session, cipher: PiiCipher, found: Sequence[Row]) -> list[dict[str, Any]]:
    """Event rows opened, each sealed one's attendee list rebuilt from its (opened) attendee rows."""
    opened = [EVENTS.open(cipher, row) for row in found]
    moved = [row["record_id"] for row in opened if row["attendees"] == ATTENDEE_ROWS]
    by_event: dict[str, list[Mapping[str, Any]]] = {record: [] for record in moved}
    for start in range(0, len(moved), BATCH):
        query = sa.select(event_attendees).where(event_attendees.c.event_id.in_(moved[start : start + BATCH]))
        for attendee in session.execute(query).mappings():
            by_event[attendee["event_id"]].append(ATTENDEES.open(cipher, attendee))
    for event in opened:
        if event["record_id"] in by_event:
            event["attendees"] = rows.attendees_json(by_event[event["record_id"]])
    return opened


def _participant_of(session: orm.Session, company_id: str, match_id: str) -> str:
    """The profile id of the participant of a match ("" for a group event)."""
    if not match_id:
        return ""
    query = sa.select(matches.c.participant_profile_id).where(
        matches.c.company_id == company_id, matches.c.record_id == match_id
    )
    return str(session.execute(query).scalar() or "")


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (matches, check-ins, feedback, events and their attendees,
    quarantined rows); the number sealed."""
    return seal_all(TABLES, session, cipher, batch=batch)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text (events before their attendee rows, whose
    values they copy back into their lists); the number changed."""
    return unseal_all(TABLES, session, cipher, batch=batch)
