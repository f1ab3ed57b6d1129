"""Buddy and upskilling events keep journeys current, each real record once; job_ready by its rule."""

from __future__ import annotations

import sqlalchemy as sa

from services.profile.consumers import HANDLERS, SUBSCRIPTIONS
from services.profile.domain.journey import EnrolmentStatus, MilestoneKind, Programme
from services.profile.domain.model import ExternalId, Provider
from services.profile.domain.rules import JOB_READY_MENTORSHIP_SESSIONS
from services.profile.repository import SqlProfileUnitOfWork
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.kintell.v1 import kintell_pb2
from teei.upskilling.v1 import events_pb2 as upskilling_events
from teei.upskilling.v1 import upskilling_pb2
from tests.unit.profile.support import (
    PARTICIPANT,
    VOLUNTEER,
    at,
    deliver,
    envelope,
    milestones,
    outbox,
    person,
    profile,
    session_completed,
)

LEARNER = "learner@example.org"


def _match(match_id: str) -> buddy_events.MatchCreated:
    payload = buddy_events.MatchCreated(
        match_id=f"p-{match_id}",
        external_match_id=match_id,
        participant=person(PARTICIPANT, "b-pat"),
        buddy=person(VOLUNTEER, "b-vol"),
    )
    payload.match_time.FromDatetime(at(5))
    return payload


def test_every_source_event_type_has_one_subscription() -> None:
    assert sorted(t for s in SUBSCRIPTIONS for t in s.event_types) == sorted([*HANDLERS, "privacy.subject.erased"])
    assert len({s.consumer for s in SUBSCRIPTIONS}) == len(SUBSCRIPTIONS) == 11


def test_a_buddy_match_enrols_flags_counts_and_reaches_buddy_matched_once(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    event = envelope(_match("m-1"))
    deliver(engine, event)
    deliver(engine, event)
    deliver(engine, _match("m-1"))
    journey = profile(uow, PARTICIPANT).journey
    assert journey.enrolments[Programme.BUDDY].status is EnrolmentStatus.ACTIVE
    assert journey.flags == {"is_buddy_participant": True}
    assert journey.counters == {"buddy_match_count": 1}
    assert [(m.kind, m.reached_at) for m in journey.milestones] == [(MilestoneKind.BUDDY_MATCHED, at(5))]
    buddy = profile(uow, VOLUNTEER)
    assert buddy.journey.counters == {"buddy_matches_as_buddy": 1}
    assert buddy.external_ids == [ExternalId(Provider.BUDDY, "b-vol")]
    deliver(engine, _match("m-2"))
    assert profile(uow, PARTICIPANT).journey.counters == {"buddy_match_count": 2}
    assert [kind for _, kind, _ in milestones(engine)] == ["MILESTONE_KIND_BUDDY_MATCHED"]


def test_each_attendee_of_a_buddy_event_gets_it_counted_once(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    payload = buddy_events.EventLogged(
        event_id="e-1", external_event_id="x-1", attendees=[person(PARTICIPANT), person(VOLUNTEER)]
    )
    deliver(engine, payload)
    deliver(engine, payload)
    for email in (PARTICIPANT, VOLUNTEER):
        assert profile(uow, email).journey.counters == {"buddy_events_attended": 1}


def test_checkins_and_feedback_count_for_their_author(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    checkin = buddy_events.CheckInCompleted(
        checkin_id="c-1",
        participant=person(PARTICIPANT),
        buddy=person(VOLUNTEER),
        person_role=types_pb2.PERSON_ROLE_PARTICIPANT,
    )
    feedback = buddy_events.FeedbackSubmitted(
        feedback_id="f-1",
        participant=person(PARTICIPANT),
        buddy=person(VOLUNTEER),
        author_role=types_pb2.PERSON_ROLE_VOLUNTEER,
    )
    for payload in (checkin, checkin, feedback, feedback):
        deliver(engine, payload)
    assert profile(uow, PARTICIPANT).journey.counters == {"buddy_checkins_completed": 1}
    assert profile(uow, VOLUNTEER).journey.counters == {"buddy_feedback_submitted": 1}


def _progress(course: str, status: int, day: int) -> upskilling_events.ProgressUpdated:
    payload = upskilling_events.ProgressUpdated(
        progress_id=f"p-{course}",
        learner=person(LEARNER, "u-1"),
        provider=upskilling_pb2.PROVIDER_ECORNELL,
        course_id=course,
        course_name=f"Course {course}",
        status=status,  # type: ignore[arg-type]
    )
    payload.update_time.FromDatetime(at(day))
    return payload


def _completed(course: str, day: int) -> upskilling_events.CourseCompleted:
    payload = upskilling_events.CourseCompleted(
        progress_id=f"p-{course}",
        learner=person(LEARNER, "u-1"),
        provider=upskilling_pb2.PROVIDER_ECORNELL,
        course_id=course,
        course_name=f"Course {course}",
    )
    payload.complete_time.FromDatetime(at(day))
    return payload


def test_course_progress_enrols_once_and_a_drop_closes_the_programme(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    deliver(engine, _progress("c1", upskilling_pb2.PROGRESS_STATUS_ENROLLED, 1))
    deliver(engine, _progress("c1", upskilling_pb2.PROGRESS_STATUS_IN_PROGRESS, 2))
    journey = profile(uow, LEARNER).journey
    assert journey.enrolments[Programme.UPSKILLING].status is EnrolmentStatus.ACTIVE
    assert journey.counters == {"courses_enrolled": 1, "courses_in_progress": 1}
    assert journey.flags == {"is_upskilling_participant": True}
    assert [(m.kind, m.detail) for m in journey.milestones] == [(MilestoneKind.COURSE_ENROLLED, "Course c1")]
    deliver(engine, _progress("c1", upskilling_pb2.PROGRESS_STATUS_DROPPED, 3))
    upskilling = profile(uow, LEARNER).journey.enrolments[Programme.UPSKILLING]
    assert (upskilling.status, upskilling.start_at, upskilling.end_at) == (EnrolmentStatus.DROPPED, at(1), at(3))
    deliver(engine, _progress("c2", upskilling_pb2.PROGRESS_STATUS_ENROLLED, 4))
    assert profile(uow, LEARNER).journey.enrolments[Programme.UPSKILLING].status is EnrolmentStatus.ACTIVE
    assert len(milestones(engine)) == 1


def test_a_completed_course_counts_once_however_it_arrives(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    deliver(engine, _completed("c1", 6))
    deliver(engine, _completed("c1", 6))
    deliver(engine, _progress("c1", upskilling_pb2.PROGRESS_STATUS_COMPLETED, 7))
    journey = profile(uow, LEARNER).journey
    assert journey.counter("courses_completed") == 1
    assert journey.counter("courses_in_progress") == 0
    assert journey.enrolments[Programme.UPSKILLING].status is EnrolmentStatus.COMPLETED
    kinds = [kind for _, kind, _ in milestones(engine)]
    assert kinds == ["MILESTONE_KIND_COURSE_ENROLLED", "MILESTONE_KIND_COURSE_COMPLETED"]


def _credential(credential_id: str) -> upskilling_events.CredentialIssued:
    payload = upskilling_events.CredentialIssued(
        credential_id=f"p-{credential_id}",
        external_credential_id=credential_id,
        learner=person(LEARNER, "u-1"),
        provider=upskilling_pb2.PROVIDER_ECORNELL,
        course_id="c1",
        course_name="Course c1",
        credential_type=upskilling_pb2.CREDENTIAL_TYPE_CERTIFICATE,
    )
    payload.issue_time.FromDatetime(at(8))
    return payload


def test_a_credential_is_earned_once_and_job_ready_follows_its_rule(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    deliver(engine, _completed("c1", 6))
    deliver(engine, _credential("cert-1"))
    deliver(engine, _credential("cert-1"))
    journey = profile(uow, LEARNER).journey
    assert journey.counter("credentials_earned") == 1
    assert journey.has(MilestoneKind.CREDENTIAL_EARNED)
    assert not journey.has(MilestoneKind.JOB_READY)
    mentorship = kintell_pb2.SESSION_TYPE_MENTORSHIP
    for number in range(1, JOB_READY_MENTORSHIP_SESSIONS + 2):
        deliver(engine, session_completed(f"m-{number}", programme=mentorship, participant=LEARNER, day=10 + number))
    journey = profile(uow, LEARNER).journey
    job_ready = [m for m in journey.milestones if m.kind is MilestoneKind.JOB_READY]
    assert [m.reached_at for m in job_ready] == [at(10 + JOB_READY_MENTORSHIP_SESSIONS)]
    assert [kind for _, kind, _ in milestones(engine)].count("MILESTONE_KIND_JOB_READY") == 1
    assert all(e.tenant == "acme" for e in outbox(engine))
