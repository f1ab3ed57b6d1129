"""Handlers applying programme-source activity to profiles, inside the caller's transaction.

Each real-world record (a session, a match, a course…) is applied to a profile at most once: the
profile's ledger of applied (source, record id) facts is checked first, so the same session arriving
in two different events (a CSV import and a webhook) counts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.profile.domain import rules
from services.profile.domain.events import MilestoneReached
from services.profile.domain.identity import resolve_person
from services.profile.domain.journey import CefrLevel, Journey, Programme
from services.profile.domain.model import PersonRole, Profile, Provider
from services.profile.handlers import live_profile
from services.profile.repository import ProfileRepository


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
    """Something one side of a pair did (a rating, a check-in, feedback); `by` says which side."""

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


Facts = Callable[[str, str], bool]
Change = Callable[[Journey, Facts], None]


@dataclass(frozen=True)
class Context:
    """Where activity is applied: the company's profiles, the source's identity provider, the clock."""

    profiles: ProfileRepository
    company_id: str
    provider: Provider
    now: datetime


def apply(context: Context, person: Person, role: PersonRole, at: datetime, change: Change) -> Profile:
    """Resolves the person, applies the change under their profile lock, and emits new milestones."""
    resolved = resolve_person(
        context.profiles,
        company_id=context.company_id,
        email=person.email,
        provider=context.provider,
        external_id=person.external_id,
        role=role,
        names=(person.given_name, person.family_name),
        profile_id=person.profile_id,
        now=context.now,
    )
    profile = live_profile(context.profiles, resolved.profile_id)
    applied: list[bool] = []

    def first(source: str, record_id: str) -> bool:
        new = context.profiles.first_fact(profile.profile_id, source, record_id, now=context.now)
        applied.append(new)
        return new

    change(profile.journey, first)
    if any(applied):
        rules.check_job_ready(profile.journey, at)
        context.profiles.save_journey(profile, now=context.now)
        for milestone in profile.journey.reached:
            context.profiles.publish(MilestoneReached(profile.profile_id, milestone))
    return profile


def session_scheduled(context: Context, session: Session) -> None:
    """A booked session enrols the participant; the volunteer is resolved so their identity is known."""

    def participant(journey: Journey, first: Facts) -> None:
        if first("kintell.session.scheduled", session.record_id):
            rules.session_scheduled(journey, session.programme, session.at)

    apply(context, session.participant, PersonRole.PARTICIPANT, session.at, participant)
    apply(context, session.volunteer, PersonRole.VOLUNTEER, session.at, lambda journey, first: None)


def session_completed(context: Context, session: Session) -> None:
    """A completed session counts for the participant and for the volunteer."""

    def participant(journey: Journey, first: Facts) -> None:
        if first("kintell.session.completed", session.record_id):
            rules.session_completed(journey, session.programme, session.at, session.level)

    def volunteer(journey: Journey, first: Facts) -> None:
        if first("kintell.session.given", session.record_id):
            rules.session_volunteered(journey, session.programme)

    apply(context, session.participant, PersonRole.PARTICIPANT, session.at, participant)
    apply(context, session.volunteer, PersonRole.VOLUNTEER, session.at, volunteer)


def _contribution(context: Context, item: Contribution, source: str, counted: Callable[[Journey], None]) -> None:
    def by(journey: Journey, first: Facts) -> None:
        if first(source, item.record_id):
            counted(journey)

    def other(journey: Journey, first: Facts) -> None:
        return None

    is_participant = item.by is PersonRole.PARTICIPANT
    apply(context, item.participant, PersonRole.PARTICIPANT, item.at, by if is_participant else other)
    apply(context, item.volunteer, PersonRole.VOLUNTEER, item.at, other if is_participant else by)


def rating_created(context: Context, rating: Contribution) -> None:
    """A rating counts for whoever gave it."""
    _contribution(context, rating, "kintell.rating", rules.rating_given)


def checkin_completed(context: Context, checkin: Contribution) -> None:
    """A check-in counts for whoever checked in."""
    _contribution(context, checkin, "buddy.checkin", rules.checkin_completed)


def feedback_submitted(context: Context, feedback: Contribution) -> None:
    """Feedback counts for its author."""
    _contribution(context, feedback, "buddy.feedback", rules.feedback_submitted)


def match_created(context: Context, match: Contribution) -> None:
    """A buddy match enrols the participant (buddy_matched) and counts for the buddy."""

    def participant(journey: Journey, first: Facts) -> None:
        if first("buddy.match", match.record_id):
            rules.buddy_matched(journey, match.at, detail=match.record_id)

    def buddy(journey: Journey, first: Facts) -> None:
        if first("buddy.match.buddy", match.record_id):
            rules.became_buddy(journey)

    apply(context, match.participant, PersonRole.PARTICIPANT, match.at, participant)
    apply(context, match.volunteer, PersonRole.VOLUNTEER, match.at, buddy)


def event_logged(context: Context, event: Attendance) -> None:
    """Each attendee of a buddy event gets it counted once."""

    def attended(journey: Journey, first: Facts) -> None:
        if first("buddy.event", event.record_id):
            rules.event_attended(journey)

    for attendee in event.attendees:
        apply(context, attendee, PersonRole.PARTICIPANT, event.at, attended)


def course_progressed(context: Context, activity: CourseActivity) -> None:
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

    apply(context, activity.learner, PersonRole.PARTICIPANT, activity.at, change)


def credential_issued(context: Context, activity: CourseActivity) -> None:
    """A credential counts once (credentials_earned, credential_earned)."""

    def change(journey: Journey, first: Facts) -> None:
        if first("upskilling.credential", activity.record_id):
            rules.credential_earned(journey, activity.at, detail=activity.course_name)

    apply(context, activity.learner, PersonRole.PARTICIPANT, activity.at, change)
