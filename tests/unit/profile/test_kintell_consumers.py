"""Kintell events keep enrolments, flags, counters and milestones current, each real session once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.errors import InvalidArgument
from services.profile.domain.journey import EnrolmentStatus, MilestoneKind, Programme
from services.profile.domain.model import ExternalId, ExternalIdConflict, InvalidProfile, PersonRole, Provider
from services.profile.domain.rules import LANGUAGE_SESSIONS_TO_COMPLETE, MENTORSHIP_SESSIONS_TO_COMPLETE
from services.profile.repository import SqlProfileUnitOfWork
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.kintell.v1 import kintell_pb2
from teei.upskilling.v1 import events_pb2 as upskilling_events
from tests.unit.profile.support import (
    PARTICIPANT,
    VOLUNTEER,
    at,
    count,
    deliver,
    envelope,
    milestones,
    outbox,
    person,
    profile,
    session_completed,
)

MENTORSHIP = kintell_pb2.SESSION_TYPE_MENTORSHIP


def test_a_completed_language_session_creates_both_people_and_counts_for_each(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    event_id = deliver(engine, session_completed("k-1"))
    participant, volunteer = profile(uow, PARTICIPANT), profile(uow, VOLUNTEER)
    assert participant.role is PersonRole.PARTICIPANT
    assert volunteer.role is PersonRole.VOLUNTEER
    assert participant.external_ids == [ExternalId(Provider.KINTELL, "k-pat")]
    journey = participant.journey
    assert journey.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.ACTIVE
    assert journey.enrolments[Programme.LANGUAGE].start_at == at(1)
    assert journey.counters == {"language_sessions_completed": 1}
    assert journey.flags == {"is_language_participant": True}
    assert [m.kind for m in journey.milestones] == [MilestoneKind.FIRST_LANGUAGE_SESSION]
    assert volunteer.journey.counters == {"volunteer_language_sessions_completed": 1}
    assert volunteer.journey.flags == {"is_language_volunteer": True}
    emitted = outbox(engine)
    assert [e.type for e in emitted] == ["journey.milestone.reached"]
    assert emitted[0].tenant == "acme"
    assert emitted[0].causation_id == event_id
    assert emitted[0].subject == participant.profile_id
    assert milestones(engine) == [(participant.profile_id, "MILESTONE_KIND_FIRST_LANGUAGE_SESSION", "")]


def test_replaying_the_same_event_applies_it_once(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    event = envelope(session_completed("k-1"))
    deliver(engine, event)
    deliver(engine, event)
    assert profile(uow, PARTICIPANT).journey.counters == {"language_sessions_completed": 1}
    assert profile(uow, VOLUNTEER).journey.counters == {"volunteer_language_sessions_completed": 1}
    assert len(outbox(engine)) == 1


def test_the_same_session_in_two_different_events_counts_once(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    deliver(engine, session_completed("k-1"))
    deliver(engine, session_completed("k-1"))
    deliver(engine, session_completed("k-2", day=2))
    assert profile(uow, PARTICIPANT).journey.counter("language_sessions_completed") == 2
    assert count(uow) == 2
    assert len(milestones(engine)) == 1


def test_language_completes_after_enough_sessions(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    for number in range(1, LANGUAGE_SESSIONS_TO_COMPLETE):
        deliver(engine, session_completed(f"k-{number}", day=number))
    assert profile(uow, PARTICIPANT).journey.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.ACTIVE
    deliver(engine, session_completed("k-last", day=20))
    journey = profile(uow, PARTICIPANT).journey
    language = journey.enrolments[Programme.LANGUAGE]
    assert language.status is EnrolmentStatus.COMPLETED
    assert (language.start_at, language.end_at) == (at(1), at(20))
    assert journey.flags["language_completed"] is True
    deliver(engine, session_completed("k-after", day=21))
    assert profile(uow, PARTICIPANT).journey.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.COMPLETED


def test_level_ups_are_emitted_per_new_higher_level_and_b2_completes_language(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    levels = [types_pb2.CEFR_LEVEL_A2, types_pb2.CEFR_LEVEL_B1, types_pb2.CEFR_LEVEL_A2, types_pb2.CEFR_LEVEL_B1]
    for day, level in enumerate(levels, start=1):
        deliver(engine, session_completed(f"k-{day}", level=level, day=day))
    journey = profile(uow, PARTICIPANT).journey
    assert [(m.kind, m.detail) for m in journey.milestones if m.kind is MilestoneKind.LANGUAGE_LEVEL_UP] == [
        (MilestoneKind.LANGUAGE_LEVEL_UP, "B1")
    ]
    assert journey.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.ACTIVE
    deliver(engine, session_completed("k-9", level=types_pb2.CEFR_LEVEL_B2, day=9))
    journey = profile(uow, PARTICIPANT).journey
    assert journey.counter("language_level") == 4
    assert journey.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.COMPLETED
    details = [d for _, kind, d in milestones(engine) if kind == "MILESTONE_KIND_LANGUAGE_LEVEL_UP"]
    assert details == ["B1", "B2"]


def test_mentorship_sessions_count_and_complete_the_programme(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    for number in range(1, MENTORSHIP_SESSIONS_TO_COMPLETE + 1):
        deliver(engine, session_completed(f"m-{number}", programme=MENTORSHIP, day=number))
    journey = profile(uow, PARTICIPANT).journey
    assert journey.counter("mentorship_sessions_completed") == MENTORSHIP_SESSIONS_TO_COMPLETE
    assert journey.enrolments[Programme.MENTORSHIP].status is EnrolmentStatus.COMPLETED
    assert journey.flags["is_mentorship_participant"]
    assert journey.flags["mentorship_completed"]
    assert [m.kind for m in journey.milestones] == [MilestoneKind.FIRST_MENTORSHIP_SESSION]
    assert profile(uow, VOLUNTEER).journey.counter("volunteer_mentorship_sessions_completed") == 6


def test_a_scheduled_session_enrols_the_participant_once(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    payload = kintell_events.SessionScheduled(
        session_id="s-1",
        external_session_id="k-1",
        session_type=MENTORSHIP,
        participant=person(PARTICIPANT),
        volunteer=person(VOLUNTEER),
    )
    payload.schedule_time.FromDatetime(at(3))
    deliver(engine, payload)
    deliver(engine, payload)
    journey = profile(uow, PARTICIPANT).journey
    assert journey.enrolments[Programme.MENTORSHIP].status is EnrolmentStatus.ACTIVE
    assert journey.counters == {"mentorship_sessions_scheduled": 1}
    assert profile(uow, VOLUNTEER).journey.counters == {}
    assert outbox(engine) == []


def _rating(rating_id: str, role: int) -> kintell_events.RatingCreated:
    return kintell_events.RatingCreated(
        rating_id=rating_id,
        session_id="s-1",
        external_session_id="k-1",
        participant=person(PARTICIPANT),
        volunteer=person(VOLUNTEER),
        rater_role=role,  # type: ignore[arg-type]
        rating=0.75,
    )


def test_a_rating_counts_once_per_session_for_whoever_gave_it(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    deliver(engine, _rating("r-1", types_pb2.PERSON_ROLE_PARTICIPANT))
    deliver(engine, _rating("r-2", types_pb2.PERSON_ROLE_PARTICIPANT))
    deliver(engine, _rating("r-3", types_pb2.PERSON_ROLE_VOLUNTEER))
    assert profile(uow, PARTICIPANT).journey.counters == {"kintell_ratings_given": 1}
    assert profile(uow, VOLUNTEER).journey.counters == {"kintell_ratings_given": 1}


def test_a_person_known_by_external_id_is_matched_when_the_email_differs(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    deliver(engine, session_completed("k-1"))
    deliver(engine, session_completed("k-2", participant="pat.new@example.org", day=2))
    assert count(uow) == 2
    assert profile(uow, PARTICIPANT).journey.counter("language_sessions_completed") == 2


def test_an_external_id_bound_elsewhere_is_a_conflict_and_nothing_is_applied(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    deliver(engine, session_completed("k-1"))
    other = session_completed("k-2", participant="other@example.org", volunteer="vol2@example.org")
    other.participant.external_id = "k-other"
    deliver(engine, other)
    clash = session_completed("k-3", participant="other@example.org")
    with pytest.raises(ExternalIdConflict) as raised:
        deliver(engine, clash)
    other_id, pat_id = profile(uow, "other@example.org").profile_id, profile(uow, PARTICIPANT).profile_id
    assert raised.value.metadata["profile_id"] == other_id
    assert raised.value.metadata["bound_profile_id"] == pat_id
    assert profile(uow, "other@example.org").journey.counter("language_sessions_completed") == 1
    assert profile(uow, PARTICIPANT).journey.counter("language_sessions_completed") == 1
    # vol2 carries the volunteer's Kintell id, so it resolves to the same volunteer profile.
    assert count(uow) == 3


def test_a_person_without_email_or_known_id_is_refused(engine: sa.Engine) -> None:
    payload = session_completed("k-1", participant="")
    payload.participant.external_id = "k-unknown"
    with pytest.raises(InvalidProfile):
        deliver(engine, payload)
    assert outbox(engine) == []


@pytest.mark.parametrize("tenant", ["", "Bad Tenant", "x" * 64])
def test_an_event_without_a_valid_tenant_is_refused(engine: sa.Engine, tenant: str) -> None:
    event = envelope(session_completed("k-1"))
    event.tenant = tenant
    with pytest.raises(InvalidArgument):
        deliver(engine, event)


def test_malformed_payloads_are_refused(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    wrong_type = envelope(upskilling_events.CourseCompleted(course_id="c"))
    wrong_type.type = "kintell.session.completed"
    with pytest.raises(InvalidArgument):
        deliver(engine, wrong_type)
    garbage = envelope(session_completed("k-1"))
    garbage.data.value = b"\xff\xff\xff"
    with pytest.raises(InvalidArgument):
        deliver(engine, garbage)
    with pytest.raises(InvalidArgument):
        deliver(engine, session_completed("k-1", programme=kintell_pb2.SESSION_TYPE_UNSPECIFIED))
    assert count(uow) == 0


def test_events_of_another_company_never_touch_this_company(engine: sa.Engine, uow: SqlProfileUnitOfWork) -> None:
    deliver(engine, session_completed("k-1"))
    deliver(engine, session_completed("k-1"), tenant="globex")
    acme, globex = profile(uow, PARTICIPANT), profile(uow, PARTICIPANT, tenant="globex")
    assert acme.profile_id != globex.profile_id
    assert acme.journey.counter("language_sessions_completed") == 1
    assert globex.journey.counter("language_sessions_completed") == 1
    assert {e.tenant for e in outbox(engine)} == {"acme", "globex"}
