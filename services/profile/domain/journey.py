"""A person's journey: enrolments per programme, flags, counters and milestones (plain Python)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from services.kit.errors import FieldViolation
from services.profile.domain.errors import CounterOverflow, InvalidProfile

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The highest CEFR level observed, as its ordinal (A1=1 … C2=6); merged by maximum, not by sum.
LEVEL_COUNTER = "language_level"
MAX_NAME_LENGTH = 63
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Programme(StrEnum):
    """Programme types a person can be enrolled in."""

    BUDDY = "buddy"
    LANGUAGE = "language"
    MENTORSHIP = "mentorship"
    UPSKILLING = "upskilling"


class EnrolmentStatus(StrEnum):
    """Where a person stands in a programme."""

    ACTIVE = "active"
    COMPLETED = "completed"
    DROPPED = "dropped"


class MilestoneKind(StrEnum):
    """Journey milestones."""

    BUDDY_MATCHED = "buddy_matched"
    FIRST_LANGUAGE_SESSION = "first_language_session"
    LANGUAGE_LEVEL_UP = "language_level_up"
    FIRST_MENTORSHIP_SESSION = "first_mentorship_session"
    COURSE_ENROLLED = "course_enrolled"
    COURSE_COMPLETED = "course_completed"
    CREDENTIAL_EARNED = "credential_earned"
    JOB_READY = "job_ready"


class CefrLevel(IntEnum):
    """CEFR language levels in rising order."""

    A1 = 1
    A2 = 2
    B1 = 3
    B2 = 4
    C1 = 5
    C2 = 6


@dataclass(frozen=True)
class Enrolment:
    """Participation in one programme."""

    programme: Programme
    status: EnrolmentStatus
    start_at: datetime
    end_at: datetime | None = None

    def combined(self, other: Enrolment) -> Enrolment:
        """The enrolment of a merged person: earliest start; active beats completed beats dropped."""
        rank = {EnrolmentStatus.ACTIVE: 0, EnrolmentStatus.COMPLETED: 1, EnrolmentStatus.DROPPED: 2}
        status = min(self.status, other.status, key=rank.__getitem__)
        ends = [e for e in (self.end_at, other.end_at) if e is not None]
        end = None if status is EnrolmentStatus.ACTIVE or not ends else max(ends)
        return Enrolment(self.programme, status, min(self.start_at, other.start_at), end)


@dataclass(frozen=True)
class Milestone:
    """A milestone reached; `key` tells repeats apart (the CEFR level of a level-up), else empty."""

    kind: MilestoneKind
    reached_at: datetime
    detail: str = ""
    key: str = ""


def validate_name(field_name: str, name: str) -> str:
    """Flag and counter names: snake_case, 1-63 characters."""
    if len(name) > MAX_NAME_LENGTH:
        problem = f"must be at most {MAX_NAME_LENGTH} characters"
    elif not _NAME.match(name):
        problem = "must be snake_case (a-z, 0-9, _), starting with a letter"
    else:
        return name
    raise InvalidProfile(f"{field_name} is invalid", violations=[FieldViolation(field_name, problem)])


def checked_sum(name: str, value: int, delta: int) -> int:
    """value + delta, refusing to leave the signed 64-bit range rather than wrap or clamp."""
    total = value + delta
    if not INT64_MIN <= total <= INT64_MAX:
        raise CounterOverflow(
            "the counter would overflow a signed 64-bit integer",
            metadata={"counter": name, "value": str(value), "delta": str(delta)},
        )
    return total


@dataclass
class Journey:
    """Enrolments, flags, counters and milestones of one profile; `reached` holds milestones new in this change."""

    enrolments: dict[Programme, Enrolment] = field(default_factory=dict)
    flags: dict[str, bool] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    milestones: list[Milestone] = field(default_factory=list)
    reached: list[Milestone] = field(default_factory=list, compare=False, repr=False)

    def set_flag(self, name: str, value: bool = True) -> None:
        """Sets a boolean flag."""
        self.flags[name] = value

    def counter(self, name: str) -> int:
        """A counter's value; a missing counter is 0."""
        return self.counters.get(name, 0)

    def increment(self, name: str, delta: int = 1) -> int:
        """Adds delta (±n) to a counter; raises CounterOverflow instead of wrapping."""
        self.counters[name] = checked_sum(name, self.counter(name), delta)
        return self.counters[name]

    def enrol(self, programme: Programme, at: datetime) -> None:
        """Active in a programme; a completed programme stays completed, a dropped one restarts."""
        current = self.enrolments.get(programme)
        if current is None:
            self.enrolments[programme] = Enrolment(programme, EnrolmentStatus.ACTIVE, at)
        elif current.status is EnrolmentStatus.DROPPED:
            self.enrolments[programme] = Enrolment(programme, EnrolmentStatus.ACTIVE, min(current.start_at, at))

    def close(self, programme: Programme, status: EnrolmentStatus, at: datetime) -> None:
        """Ends a programme as completed or dropped (starting it at `at` when it never started)."""
        current = self.enrolments.get(programme)
        start = at if current is None else min(current.start_at, at)
        self.enrolments[programme] = Enrolment(programme, status, start, max(start, at))

    def has(self, kind: MilestoneKind, key: str = "") -> bool:
        """Whether the milestone was reached."""
        return any(m.kind is kind and m.key == key for m in self.milestones)

    def reach(self, kind: MilestoneKind, at: datetime, detail: str = "", key: str = "") -> bool:
        """Records a milestone once per (kind, key); False when it was reached before."""
        if self.has(kind, key):
            return False
        milestone = Milestone(kind, at, detail, key)
        self.milestones.append(milestone)
        self.reached.append(milestone)
        return True

    def observe_level(self, level: CefrLevel, at: datetime) -> None:
        """Tracks the highest CEFR level; a rise above an earlier level is a language_level_up milestone.

        The first observed level is the starting point, not a level-up; each higher level is reached
        at most once, so the milestone may repeat (A2 → B1 → B2) but never for the same level.
        """
        previous = self.counter(LEVEL_COUNTER)
        if level <= previous:
            return
        self.counters[LEVEL_COUNTER] = int(level)
        if previous:
            self.reach(MilestoneKind.LANGUAGE_LEVEL_UP, at, detail=level.name, key=level.name)

    def absorb(self, other: Journey) -> None:
        """Folds a duplicate's journey in: counters summed, flags OR-ed, earliest milestones kept."""
        for programme, enrolment in other.enrolments.items():
            mine = self.enrolments.get(programme)
            self.enrolments[programme] = enrolment if mine is None else mine.combined(enrolment)
        for name, value in other.counters.items():
            if name == LEVEL_COUNTER:
                self.counters[name] = max(self.counter(name), value)
            else:
                self.counters[name] = checked_sum(name, self.counter(name), value)
        for name, flag in other.flags.items():
            self.flags[name] = self.flags.get(name, False) or flag
        self._absorb_milestones(other.milestones)

    def _absorb_milestones(self, theirs: list[Milestone]) -> None:
        earliest = {(m.kind, m.key): m for m in self.milestones}
        for milestone in theirs:
            mine = earliest.get((milestone.kind, milestone.key))
            if mine is None or milestone.reached_at < mine.reached_at:
                earliest[(milestone.kind, milestone.key)] = milestone
        self.milestones = sorted(earliest.values(), key=lambda m: (m.reached_at, m.kind, m.key))


def upserted(
    existing: Enrolment | None,
    *,
    programme: Programme,
    status: EnrolmentStatus,
    start_at: datetime | None,
    end_at: datetime | None,
    now: datetime,
) -> Enrolment:
    """An enrolment set explicitly: start defaults to the existing start (else now), an active one has
    no end, and a closed one without an end ends now."""
    start = start_at or (existing.start_at if existing is not None else now)
    end = None if status is EnrolmentStatus.ACTIVE else end_at or max(start, now)
    if end is not None and end < start:
        raise InvalidProfile(
            "the enrolment ends before it starts",
            violations=[FieldViolation("enrolment.end_time", "must not be before start_time")],
        )
    return Enrolment(programme, status, start, end)
