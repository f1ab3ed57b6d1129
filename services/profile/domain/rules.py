"""Programme rules: how source activity moves a journey (enrolments, flags, counters, milestones).

Completion rules (so that every completion flag can become true):
- language: completed after LANGUAGE_SESSIONS_TO_COMPLETE completed sessions, or as soon as a
  session observes CEFR level LANGUAGE_LEVEL_TO_COMPLETE (B2, independent user) or higher;
- mentorship: completed after MENTORSHIP_SESSIONS_TO_COMPLETE completed sessions;
- upskilling: active while a course is in progress, else completed when a course was completed,
  else dropped;
- job_ready: a completed course, an earned credential and at least JOB_READY_MENTORSHIP_SESSIONS
  completed mentorship sessions.
A completed programme stays completed when more activity arrives.
"""

from __future__ import annotations

from datetime import datetime

from services.profile.domain.journey import CefrLevel, EnrolmentStatus, Journey, MilestoneKind, Programme

LANGUAGE_SESSIONS_TO_COMPLETE = 10
LANGUAGE_LEVEL_TO_COMPLETE = CefrLevel.B2
MENTORSHIP_SESSIONS_TO_COMPLETE = 6
JOB_READY_MENTORSHIP_SESSIONS = 3

_FIRST_SESSION = {
    Programme.LANGUAGE: MilestoneKind.FIRST_LANGUAGE_SESSION,
    Programme.MENTORSHIP: MilestoneKind.FIRST_MENTORSHIP_SESSION,
}


def session_scheduled(journey: Journey, programme: Programme, at: datetime) -> None:
    """A participant booked a language or mentorship session."""
    journey.enrol(programme, at)
    journey.set_flag(f"is_{programme}_participant")
    journey.increment(f"{programme}_sessions_scheduled")


def session_completed(journey: Journey, programme: Programme, at: datetime, level: CefrLevel | None) -> None:
    """A participant completed a language or mentorship session."""
    journey.enrol(programme, at)
    journey.set_flag(f"is_{programme}_participant")
    done = journey.increment(f"{programme}_sessions_completed")
    journey.reach(_FIRST_SESSION[programme], at)
    if level is not None and programme is Programme.LANGUAGE:
        journey.observe_level(level, at)
    if _programme_done(journey, programme, done):
        journey.close(programme, EnrolmentStatus.COMPLETED, at)
        journey.set_flag(f"{programme}_completed")


def _programme_done(journey: Journey, programme: Programme, sessions: int) -> bool:
    current = journey.enrolments[programme]
    if current.status is EnrolmentStatus.COMPLETED:
        return False
    if programme is Programme.LANGUAGE:
        level_done = journey.counter("language_level") >= LANGUAGE_LEVEL_TO_COMPLETE
        return level_done or sessions >= LANGUAGE_SESSIONS_TO_COMPLETE
    return sessions >= MENTORSHIP_SESSIONS_TO_COMPLETE


def session_volunteered(journey: Journey, programme: Programme) -> None:
    """A volunteer gave a language or mentorship session."""
    journey.set_flag(f"is_{programme}_volunteer")
    journey.increment(f"volunteer_{programme}_sessions_completed")


def rating_given(journey: Journey) -> None:
    """The person rated a Kintell session."""
    journey.increment("kintell_ratings_given")


def checkin_completed(journey: Journey) -> None:
    """The person completed a buddy check-in."""
    journey.increment("buddy_checkins_completed")


def feedback_submitted(journey: Journey) -> None:
    """The person submitted feedback on their buddy match."""
    journey.increment("buddy_feedback_submitted")


def event_attended(journey: Journey) -> None:
    """The person attended a buddy event."""
    journey.increment("buddy_events_attended")


def buddy_matched(journey: Journey, at: datetime, detail: str) -> None:
    """A participant was matched with a buddy."""
    journey.enrol(Programme.BUDDY, at)
    journey.set_flag("is_buddy_participant")
    journey.increment("buddy_match_count")
    journey.reach(MilestoneKind.BUDDY_MATCHED, at, detail=detail)


def became_buddy(journey: Journey) -> None:
    """A volunteer was matched as someone's buddy."""
    journey.set_flag("is_buddy_volunteer")
    journey.increment("buddy_matches_as_buddy")


def course_started(journey: Journey, at: datetime, course: str) -> None:
    """First sight of a course for this learner (any status)."""
    journey.set_flag("is_upskilling_participant")
    journey.increment("courses_enrolled")
    journey.increment("courses_in_progress")
    journey.reach(MilestoneKind.COURSE_ENROLLED, at, detail=course)
    _sync_upskilling(journey, at)


def course_closed(journey: Journey, at: datetime) -> None:
    """A course ended (completed or dropped); called once per course."""
    if journey.counter("courses_in_progress") > 0:
        journey.increment("courses_in_progress", -1)
    _sync_upskilling(journey, at)


def course_completed(journey: Journey, at: datetime, course: str) -> None:
    """A course was completed; called once per course, after course_closed."""
    journey.increment("courses_completed")
    journey.reach(MilestoneKind.COURSE_COMPLETED, at, detail=course)
    _sync_upskilling(journey, at)


def credential_earned(journey: Journey, at: datetime, detail: str) -> None:
    """A credential was issued to the person."""
    journey.increment("credentials_earned")
    journey.reach(MilestoneKind.CREDENTIAL_EARNED, at, detail=detail)


def _sync_upskilling(journey: Journey, at: datetime) -> None:
    if journey.counter("courses_in_progress") > 0:
        current = journey.enrolments.get(Programme.UPSKILLING)
        if current is None or current.status is not EnrolmentStatus.ACTIVE:
            journey.enrolments.pop(Programme.UPSKILLING, None)
            journey.enrol(Programme.UPSKILLING, at if current is None else min(current.start_at, at))
    elif journey.counter("courses_completed") > 0:
        journey.close(Programme.UPSKILLING, EnrolmentStatus.COMPLETED, at)
    else:
        journey.close(Programme.UPSKILLING, EnrolmentStatus.DROPPED, at)


def check_job_ready(journey: Journey, at: datetime) -> None:
    """job_ready once a course is completed, a credential earned and enough mentorship done."""
    ready = (
        journey.has(MilestoneKind.COURSE_COMPLETED)
        and journey.has(MilestoneKind.CREDENTIAL_EARNED)
        and journey.counter("mentorship_sessions_completed") >= JOB_READY_MENTORSHIP_SESSIONS
    )
    if ready:
        journey.reach(MilestoneKind.JOB_READY, at)
