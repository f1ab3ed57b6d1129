"""Where Buddy keeps people: matches (participant and buddy), their events and attendees, check-ins
and feedback."""

from __future__ import annotations

from services.buddy.tables import checkins, event_attendees, events, feedback, matches
from services.kit.persistence.subjects import Child, Holding, Person, Scrub, SubjectMap

_PERSON = ("external_id", "given_name", "family_name")


def _person(prefix: str, *owned: str) -> Person:
    columns = tuple(f"{prefix}_{c}" for c in _PERSON) + owned
    return Person(email=f"{prefix}_email", profile_id=f"{prefix}_profile_id", owned=columns)


_ATTENDEES = Child(event_attendees, column="event_id", key="event_id")

MAP = SubjectMap(
    service="buddy",
    holdings=(
        Holding(checkins, persons={"person": _person("person")}, key="record_id"),
        Holding(feedback, persons={"author": _person("author")}, key="record_id"),
        Holding(event_attendees, persons={"attendee": Person(profile_id="profile_id")}, key="event_id"),
        Holding(
            matches,
            persons={"participant": _person("participant"), "buddy": _person("buddy")},
            key="record_id",
            children=(
                Child(events, column="match_id", key="record_id", children=(_ATTENDEES,)),
                Child(checkins, column="match_id", key="record_id"),
                Child(feedback, column="match_id", key="record_id"),
            ),
        ),
    ),
    scrubs=(
        Scrub(events, ("attendees", "description")),
        Scrub(checkins, ("notes", "answers")),
        Scrub(feedback, ("text",)),
    ),
)
