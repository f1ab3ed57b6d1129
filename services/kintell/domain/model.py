"""Sessions and ratings as Kintell reports them, and how a new report about a known session is absorbed.

A later report never undoes earlier facts: an empty value keeps the stored one, and a completed
session stays completed. Only a first sighting or the scheduled → completed transition is news
(an event); a report that changes nothing else is a no-op.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from services.kintell.domain.errors import SessionTypeConflict
from services.kit.connectors.model import Person, Provenance

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")


class SessionType(StrEnum):
    """Kind of Kintell session."""

    LANGUAGE = "language"
    MENTORSHIP = "mentorship"


class SessionStatus(StrEnum):
    """Lifecycle of a session, derived from whether it has a completion time."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"


class RaterRole(StrEnum):
    """Which party of a session gave a rating."""

    PARTICIPANT = "participant"
    VOLUNTEER = "volunteer"


class Change(Enum):
    """What absorbing a report did to the stored session."""

    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    COMPLETED = "completed"


@dataclass(frozen=True)
class SessionFacts:
    """What a source says about one session; None, "" and () mean "not reported"."""

    external_session_id: str
    session_type: SessionType
    participant: Person
    volunteer: Person
    scheduled_at: datetime
    completed_at: datetime | None = None
    duration_minutes: int | None = None
    rating: float | None = None
    feedback_text: str = ""
    language_level: str = ""
    topics: tuple[str, ...] = ()
    focus_area: str = ""
    goals_discussed: tuple[str, ...] = ()
    metadata: dict[str, object] | None = None

    def merged_over(self, stored: SessionFacts) -> SessionFacts:
        """This report with every unreported value kept from the stored facts."""
        values: dict[str, Any] = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(stored, item.name)
            if isinstance(mine, Person):
                values[item.name] = mine.merged_over(theirs)
            else:
                values[item.name] = theirs if mine in (None, "", ()) else mine
        return SessionFacts(**values)


@dataclass(frozen=True)
class Session:
    """A stored session of one company."""

    session_id: str
    company_id: str
    facts: SessionFacts
    provenance: Provenance
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> SessionStatus:
        """Completed once a completion time is known."""
        return SessionStatus.SCHEDULED if self.facts.completed_at is None else SessionStatus.COMPLETED

    @classmethod
    def first_report(cls, *, company_id: str, facts: SessionFacts, provenance: Provenance) -> Session:
        """A session seen for the first time."""
        now = provenance.received_at
        return cls(str(uuid.uuid4()), company_id, facts, provenance, now, now)

    def absorb(self, facts: SessionFacts, provenance: Provenance) -> tuple[Session, Change]:
        """This session after a further report; raises SessionTypeConflict when the type differs."""
        if facts.session_type is not self.facts.session_type:
            raise SessionTypeConflict(
                f"session {facts.external_session_id} is stored as a {self.facts.session_type} session",
                metadata={"session_id": self.session_id, "external_session_id": facts.external_session_id},
            )
        merged = facts.merged_over(self.facts)
        if merged == self.facts:
            return self, Change.UNCHANGED
        change = Change.COMPLETED if self.facts.completed_at is None and merged.completed_at else Change.UPDATED
        return replace(self, facts=merged, provenance=provenance, updated_at=provenance.received_at), change


@dataclass(frozen=True)
class Rating:
    """A rating of a session (normalised to 0-1) by its participant or volunteer."""

    rating_id: str
    company_id: str
    session_id: str
    external_rating_id: str
    rater_role: RaterRole
    rating: float
    feedback_text: str
    given_at: datetime
    provenance: Provenance


def normalise_five_star(value: float) -> float:
    """A legacy 1-5 rating on the 0-1 scale: (r - 1) / 4."""
    return (value - 1) / 4
