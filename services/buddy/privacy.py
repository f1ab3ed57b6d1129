"""Where Buddy keeps people: matches (participant and buddy), their events and attendees, check-ins
and feedback.

Personal fields are sealed (services/buddy/sealing.py): exports open them; erasure finds the person by
profile id (their e-mail is sealed), shreds their key, and blanks or deletes every value it sealed: their
match columns (a participant's with the match's location), their check-ins and feedback, their attendee
rows, the description and location of the events of the matches they are the participant of
(`writer_profile_id`), and the quarantined CSV rows that name them (`profile_id`)."""

from __future__ import annotations

from services.buddy.sealing import ATTENDEES, CHECKINS, EVENTS, FEEDBACK, MATCHES
from services.buddy.tables import ATTENDEE_FIELDS, checkins, event_attendees, events, feedback, matches
from services.kit.connectors.imports import QUARANTINED
from services.kit.persistence.subjects import Child, Holding, Person, Scrub, SubjectMap

_PERSON = ("external_id", "given_name", "family_name")


def _person(prefix: str, *owned: str) -> Person:
    columns = tuple(f"{prefix}_{c}" for c in _PERSON) + owned
    return Person(email=f"{prefix}_email", profile_id=f"{prefix}_profile_id", owned=columns)


_ATTENDEE = Person(email="email", profile_id="profile_id", owned=tuple(c for c in ATTENDEE_FIELDS if c != "email"))
# The event's texts belong to whoever's key sealed them; the event itself stays (its other attendees').
_WRITER = Person(profile_id="writer_profile_id", owned=("description", "location"))
# Under a shared match, an export withholds what the other person is and wrote (their check-ins' notes
# and answers, their feedback's text, the participant's event texts, the other attendees).
_ATTENDEES = Child(
    event_attendees, column="event_id", key="event_id", sealed=ATTENDEES.privacy(), persons={"attendee": _ATTENDEE}
)

MAP = SubjectMap(
    service="buddy",
    holdings=(
        QUARANTINED,
        Holding(checkins, persons={"person": _person("person")}, key="record_id", sealed=CHECKINS.privacy()),
        Holding(feedback, persons={"author": _person("author")}, key="record_id", sealed=FEEDBACK.privacy()),
        Holding(event_attendees, persons={"attendee": _ATTENDEE}, key="event_id", sealed=ATTENDEES.privacy()),
        Holding(events, persons={"writer": _WRITER}, key="record_id", keep_rows=True, sealed=EVENTS.privacy()),
        Holding(
            matches,
            persons={"participant": _person("participant", "location"), "buddy": _person("buddy")},
            key="record_id",
            children=(
                Child(
                    events,
                    column="match_id",
                    key="record_id",
                    children=(_ATTENDEES,),
                    sealed=EVENTS.privacy(),
                    persons={"writer": _WRITER},
                ),
                Child(
                    checkins,
                    column="match_id",
                    key="record_id",
                    sealed=CHECKINS.privacy(),
                    persons={"person": _person("person", "notes", "answers")},
                ),
                Child(
                    feedback,
                    column="match_id",
                    key="record_id",
                    sealed=FEEDBACK.privacy(),
                    persons={"author": _person("author", "text")},
                ),
            ),
            sealed=MATCHES.privacy(),
        ),
    ),
    scrubs=(
        Scrub(events, ("attendees", "description")),
        Scrub(checkins, ("notes", "answers")),
        Scrub(feedback, ("text",)),
    ),
)
