"""Journey rules in plain Python: counters, enrolments, milestones and how two journeys merge."""

from __future__ import annotations

import pytest

from services.profile.domain.journey import (
    INT64_MAX,
    INT64_MIN,
    LEVEL_COUNTER,
    CefrLevel,
    Enrolment,
    EnrolmentStatus,
    Journey,
    MilestoneKind,
    Programme,
    upserted,
    validate_name,
)
from services.profile.domain.model import CounterOverflow, InvalidProfile
from tests.unit.profile.support import at


def test_a_missing_counter_starts_at_zero_and_moves_by_plus_or_minus_n() -> None:
    journey = Journey()
    assert journey.counter("x") == 0
    assert journey.increment("x", 5) == 5
    assert journey.increment("x", -7) == -2


@pytest.mark.parametrize(("start", "delta"), [(INT64_MAX, 1), (INT64_MIN, -1), (0, INT64_MAX + 1)])
def test_counters_refuse_to_leave_int64(start: int, delta: int) -> None:
    journey = Journey(counters={"x": start})
    with pytest.raises(CounterOverflow):
        journey.increment("x", delta)
    assert journey.counters == {"x": start}


def test_milestones_are_reached_once_but_level_ups_once_per_higher_level() -> None:
    journey = Journey()
    assert journey.reach(MilestoneKind.BUDDY_MATCHED, at(1))
    assert not journey.reach(MilestoneKind.BUDDY_MATCHED, at(2))
    for level in (CefrLevel.A1, CefrLevel.A2, CefrLevel.A1, CefrLevel.A2, CefrLevel.C1):
        journey.observe_level(level, at(3))
    ups = [m.key for m in journey.reached if m.kind is MilestoneKind.LANGUAGE_LEVEL_UP]
    assert ups == ["A2", "C1"]
    assert journey.counter(LEVEL_COUNTER) == CefrLevel.C1


def test_absorbing_a_duplicate_sums_ors_and_keeps_the_earliest() -> None:
    mine = Journey(
        enrolments={Programme.BUDDY: Enrolment(Programme.BUDDY, EnrolmentStatus.DROPPED, at(5), at(6))},
        flags={"a": False, "b": True},
        counters={"n": 2, LEVEL_COUNTER: 2},
    )
    mine.reach(MilestoneKind.BUDDY_MATCHED, at(5))
    theirs = Journey(
        enrolments={
            Programme.BUDDY: Enrolment(Programme.BUDDY, EnrolmentStatus.ACTIVE, at(2)),
            Programme.LANGUAGE: Enrolment(Programme.LANGUAGE, EnrolmentStatus.COMPLETED, at(1), at(3)),
        },
        flags={"a": True},
        counters={"n": 3, "m": 1, LEVEL_COUNTER: 1},
    )
    theirs.reach(MilestoneKind.BUDDY_MATCHED, at(2))
    theirs.reach(MilestoneKind.COURSE_ENROLLED, at(9))
    mine.absorb(theirs)
    assert mine.counters == {"n": 5, "m": 1, LEVEL_COUNTER: 2}
    assert mine.flags == {"a": True, "b": True}
    assert mine.enrolments[Programme.BUDDY] == Enrolment(Programme.BUDDY, EnrolmentStatus.ACTIVE, at(2))
    assert mine.enrolments[Programme.LANGUAGE].status is EnrolmentStatus.COMPLETED
    assert [(m.kind, m.reached_at) for m in mine.milestones] == [
        (MilestoneKind.BUDDY_MATCHED, at(2)),
        (MilestoneKind.COURSE_ENROLLED, at(9)),
    ]


def test_absorbing_refuses_a_sum_that_would_overflow() -> None:
    with pytest.raises(CounterOverflow):
        Journey(counters={"n": INT64_MAX}).absorb(Journey(counters={"n": 1}))


def test_an_upserted_enrolment_keeps_its_start_and_ends_when_closed() -> None:
    active = upserted(
        None, programme=Programme.LANGUAGE, status=EnrolmentStatus.ACTIVE, start_at=None, end_at=at(9), now=at(1)
    )
    assert (active.start_at, active.end_at) == (at(1), None)
    closed = upserted(
        active, programme=Programme.LANGUAGE, status=EnrolmentStatus.DROPPED, start_at=None, end_at=None, now=at(4)
    )
    assert (closed.start_at, closed.end_at) == (at(1), at(4))
    with pytest.raises(InvalidProfile):
        upserted(
            None,
            programme=Programme.LANGUAGE,
            status=EnrolmentStatus.COMPLETED,
            start_at=at(5),
            end_at=at(2),
            now=at(6),
        )


@pytest.mark.parametrize("name", ["", "Upper", "1st", "has space", "x" * 64, "dash-ed"])
def test_flag_and_counter_names_are_snake_case(name: str) -> None:
    with pytest.raises(InvalidProfile):
        validate_name("flag", name)
    assert validate_name("flag", "is_buddy_participant_2") == "is_buddy_participant_2"
