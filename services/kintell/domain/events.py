"""What the Kintell connector announces, as plain values; events.py turns them into typed envelopes."""

from __future__ import annotations

from dataclasses import dataclass

from services.kintell.domain.model import Rating, Session


@dataclass(frozen=True)
class SessionScheduled:
    """A session was seen for the first time, not completed yet."""

    session: Session


@dataclass(frozen=True)
class SessionCompleted:
    """A session was seen completed for the first time (new, or a scheduled one now completed)."""

    session: Session


@dataclass(frozen=True)
class RatingCreated:
    """A rating of a stored session was stored."""

    rating: Rating
    session: Session


DomainEvent = SessionScheduled | SessionCompleted | RatingCreated


def first_sighting(session: Session) -> SessionScheduled | SessionCompleted:
    """The event of a session stored for the first time: completed when it already is."""
    return SessionScheduled(session) if session.facts.completed_at is None else SessionCompleted(session)
