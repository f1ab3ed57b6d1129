"""Programme-source activity (sessions, matches, courses…) and what one record changes for each person it names.

Each real-world record is applied to a profile at most once: a change first asks the profile's ledger
of applied (source, record id) facts, so the same session arriving in two different events (a CSV
import and a webhook) counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.profile.domain import rules
from services.profile.domain.journey import CefrLevel, Journey, Programme
from services.profile.domain.model import PersonRole

# Records (source, record id) as applied to the profile; False when it already was.
Facts = Callable[[str, str], bool]
Change = Callable[[Journey, Facts], None]


@dataclass(frozen=True)
class Person:
    """A person as a source record names them."""

    email: str = ""
    external_id: str = ""
    profile_id: str = ""
    given_name: str = ""
    family_name: str = ""


@dataclass(frozen=True)
class Session:
    """A Kintell session (scheduled or completed); `record_id` is Kintell's id of the session."""

    record_id: str
    programme: Programme
    participant: Person
    volunteer: Person
    at: datetime
    level: CefrLevel | None = None


@dataclass(frozen=True)
class Contribution:
    """Something one side of a pair did (a rating, a check-in, feedback, a match); `by` says which side."""

    record_id: str
    participant: Person
    volunteer: Person
    by: PersonRole
    at: datetime


@dataclass(frozen=True)
class Attendance:
    """A buddy event and the people who attended it."""

    record_id: str
    attendees: tuple[Person, ...]
    at: datetime


class CourseStatus(StrEnum):
    """A learner's status in one course."""

    ENROLLED = "enrolled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DROPPED = "dropped"


@dataclass(frozen=True)
class CourseActivity:
    """Progress, completion or a credential in one course; `course` identifies the course at its provider."""

    record_id: str
    course: str
    course_name: str
    learner: Person
    status: CourseStatus
    at: datetime


@dataclass(frozen=True)
class PersonChange:
    """What one record changes for one person it names, in the role they play in it."""

    person: Person
    role: PersonRole
    at: datetime
    change: Change


def _untouched(journey: Journey, first: Facts) -> None:
    """The person is resolved, so their identity is known, but their journey does not change."""


def _once(source: str, record_id: str, rule: Callable[[Journey], None]) -> Change:
    def change(journey: Journey, first: Facts) -> None:
        if first(source, record_id):
            rule(journey)

    return change


def _both(item: Session | Contribution, participant: Change, volunteer: Change) -> list[PersonChange]:
    return [
        PersonChange(item.participant, PersonRole.PARTICIPANT, item.at, participant),
        PersonChange(item.volunteer, PersonRole.VOLUNTEER, item.at, volunteer),
    ]


def session_scheduled(session: Session) -> list[PersonChange]:
    """A booked session enrols the participant; the volunteer is resolved so their identity is known."""
    booked = _once(
        "kintell.session.scheduled",
        session.record_id,
        lambda journey: rules.session_scheduled(journey, session.programme, session.at),
    )
    return _both(session, booked, _untouched)


def session_completed(session: Session) -> list[PersonChange]:
    """A completed session counts for the participant and for the volunteer."""
    attended = _once(
        "kintell.session.completed",
        session.record_id,
        lambda journey: rules.session_completed(journey, session.programme, session.at, session.level),
    )
    given = _once(
        "kintell.session.given",
        session.record_id,
        lambda journey: rules.session_volunteered(journey, session.programme),
    )
    return _both(session, attended, given)


def _by_author(item: Contribution, source: str, rule: Callable[[Journey], None]) -> list[PersonChange]:
    counted = _once(source, item.record_id, rule)
    if item.by is PersonRole.PARTICIPANT:
        return _both(item, counted, _untouched)
    return _both(item, _untouched, counted)


def rating_created(rating: Contribution) -> list[PersonChange]:
    """A rating counts for whoever gave it."""
    return _by_author(rating, "kintell.rating", rules.rating_given)


def checkin_completed(checkin: Contribution) -> list[PersonChange]:
    """A check-in counts for whoever checked in."""
    return _by_author(checkin, "buddy.checkin", rules.checkin_completed)


def feedback_submitted(feedback: Contribution) -> list[PersonChange]:
    """Feedback counts for its author."""
    return _by_author(feedback, "buddy.feedback", rules.feedback_submitted)


def match_created(match: Contribution) -> list[PersonChange]:
    """A buddy match enrols the participant (buddy_matched) and counts for the buddy."""
    matched = _once(
        "buddy.match", match.record_id, lambda journey: rules.buddy_matched(journey, match.at, detail=match.record_id)
    )
    return _both(match, matched, _once("buddy.match.buddy", match.record_id, rules.became_buddy))


def event_logged(event: Attendance) -> list[PersonChange]:
    """Each attendee of a buddy event gets it counted once."""
    attended = _once("buddy.event", event.record_id, rules.event_attended)
    return [PersonChange(attendee, PersonRole.PARTICIPANT, event.at, attended) for attendee in event.attendees]


def course_progressed(activity: CourseActivity) -> list[PersonChange]:
    """Course activity: first sight enrols (course_enrolled); completion or a drop closes the course
    once; a completion counts once, whether it arrives as progress or as a completion event."""

    def change(journey: Journey, first: Facts) -> None:
        if first("upskilling.course.started", activity.course):
            rules.course_started(journey, activity.at, activity.course_name)
        closing = activity.status in {CourseStatus.COMPLETED, CourseStatus.DROPPED}
        if closing and first("upskilling.course.closed", activity.course):
            rules.course_closed(journey, activity.at)
        completed = activity.status is CourseStatus.COMPLETED
        if completed and first("upskilling.course.completed", activity.course):
            rules.course_completed(journey, activity.at, activity.course_name)

    return [PersonChange(activity.learner, PersonRole.PARTICIPANT, activity.at, change)]


def credential_issued(activity: CourseActivity) -> list[PersonChange]:
    """A credential counts once (credentials_earned, credential_earned)."""
    earned = _once(
        "upskilling.credential",
        activity.record_id,
        lambda journey: rules.credential_earned(journey, activity.at, detail=activity.course_name),
    )
    return [PersonChange(activity.learner, PersonRole.PARTICIPANT, activity.at, earned)]
