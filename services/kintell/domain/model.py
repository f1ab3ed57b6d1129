"""Sessions and ratings as Kintell reports them, and how a new report about a known session is absorbed.

A later report never undoes earlier facts: an empty value keeps the stored one, and a completed
session stays completed. Only a first sighting or the scheduled → completed transition is news
(an event); a report that changes nothing else is a no-op.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import TypeVar

from services.kintell.domain.errors import SessionTypeConflict
from services.kit.connectors.model import Person, Provenance

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
T = TypeVar("T")


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
        return SessionFacts(
            external_session_id=self.external_session_id or stored.external_session_id,
            session_type=self.session_type,
            participant=self.participant.merged_over(stored.participant),
            volunteer=self.volunteer.merged_over(stored.volunteer),
            scheduled_at=self.scheduled_at,
            completed_at=_reported(self.completed_at, stored.completed_at),
            duration_minutes=_reported(self.duration_minutes, stored.duration_minutes),
            rating=_reported(self.rating, stored.rating),
            feedback_text=self.feedback_text or stored.feedback_text,
            language_level=self.language_level or stored.language_level,
            topics=self.topics or stored.topics,
            focus_area=self.focus_area or stored.focus_area,
            goals_discussed=self.goals_discussed or stored.goals_discussed,
            metadata=_reported(self.metadata, stored.metadata),
        )


def _reported(mine: T | None, theirs: T | None) -> T | None:
    return theirs if mine is None else mine


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
