"""What the buddy service announces about newly stored records, as plain values; events.py (the
service's) turns them into typed envelopes. Only a new record is announced, never an update."""

from __future__ import annotations

from dataclasses import dataclass

from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match, Record


@dataclass(frozen=True)
class MatchCreated:
    """A match was stored: profile enrols the participant and counts matches for both people."""

    match: Match


@dataclass(frozen=True)
class EventLogged:
    """A buddy event was stored: profile counts attendance per attendee."""

    event: BuddyEvent


@dataclass(frozen=True)
class CheckInCompleted:
    """A check-in was stored; it carries its match's pair."""

    checkin: CheckIn
    match: Match


@dataclass(frozen=True)
class FeedbackSubmitted:
    """Feedback was stored; it carries its match's pair."""

    feedback: Feedback
    match: Match


DomainEvent = MatchCreated | EventLogged | CheckInCompleted | FeedbackSubmitted


def created(record: Record, match: Match | None) -> DomainEvent:
    """The event announcing a new record (check-ins and feedback need the record's match)."""
    if isinstance(record, Match):
        return MatchCreated(record)
    if isinstance(record, BuddyEvent):
        return EventLogged(record)
    if match is None:
        raise ValueError(f"{type(record).__name__} events need the record's match")
    if isinstance(record, CheckIn):
        return CheckInCompleted(record, match)
    if isinstance(record, Feedback):
        return FeedbackSubmitted(record, match)
    raise TypeError(f"no event for {type(record).__name__}")
