"""Builds Buddy records from validated field values, applying the rules that span fields and records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.buddy.domain.errors import InvalidBuddyRequest, MatchUnknown, RecordConflict
from services.buddy.domain.model import (
    BuddyEvent,
    CheckIn,
    EventType,
    Feedback,
    Match,
    MatchStatus,
    Mood,
    Person,
    Provenance,
    R,
    Record,
    Side,
    content,
    revised,
)
from services.kit.errors import FieldViolation

SCORES = ("rating", "communication", "helpfulness", "engagement")


@dataclass(frozen=True)
class Intake:
    """Where and when a record arrived, for the company it belongs to."""

    company_id: str
    provenance: Provenance

    def base(self, external_id: str) -> dict[str, Any]:
        """The common fields of a new record."""
        now = self.provenance.received_at
        return {
            "record_id": str(uuid.uuid4()),
            "company_id": self.company_id,
            "external_id": external_id,
            "provenance": self.provenance,
            "created_at": now,
            "updated_at": now,
        }


def _invalid(field: str, message: str) -> InvalidBuddyRequest:
    return InvalidBuddyRequest(f"{field} {message}", violations=[FieldViolation(field, message)])


def build_match(values: dict[str, Any], intake: Intake, _: Match | None) -> Match:
    """A match; its two people must differ and only an ended match may have an end time."""
    participant, buddy = _person(values, "participant"), _person(values, "buddy")
    status = MatchStatus(values["status"] or MatchStatus.ACTIVE)
    ended_at: datetime | None = values["ended_at"]
    if participant.email == buddy.email:
        raise _invalid("buddy_email", "must differ from participant_email")
    if ended_at is not None and status is not MatchStatus.ENDED:
        raise _invalid("ended_at", "is only allowed when status is ended")
    if ended_at is not None and ended_at < values["matched_at"]:
        raise _invalid("ended_at", "must not be before matched_at")
    return Match(
        **intake.base(values["match_id"]),
        participant=participant,
        buddy=buddy,
        matched_at=values["matched_at"],
        status=status,
        languages=values["languages"] or (),
        interests=values["interests"] or (),
        location=values["location"] or "",
        ended_at=ended_at,
    )


def _person(values: dict[str, Any], prefix: str) -> Person:
    return Person(
        email=values[f"{prefix}_email"],
        external_id=values[f"{prefix}_external_id"] or "",
        given_name=values[f"{prefix}_given_name"] or "",
        family_name=values[f"{prefix}_family_name"] or "",
    )


def build_event(values: dict[str, Any], intake: Intake, match: Match | None) -> BuddyEvent:
    """An event; attendees who are members of its match carry their Buddy ids."""
    attendees = tuple(match.person(e) if match else Person(e) for e in values["attendee_emails"])
    return BuddyEvent(
        **intake.base(values["event_id"]),
        match_id=match.record_id if match else "",
        event_type=EventType(values["event_type"]),
        event_at=values["event_date"],
        description=values["description"] or "",
        location=values["location"] or "",
        attendees=attendees,
    )


def build_checkin(values: dict[str, Any], intake: Intake, match: Match | None) -> CheckIn:
    """A check-in by the participant or the buddy of its match."""
    match = _required(match, values)
    return CheckIn(
        **intake.base(values["checkin_id"]),
        match_id=match.record_id,
        person=match.person(values["person_email"]),
        side=_side(match, values["person_email"], "person_email"),
        checkin_at=values["checkin_date"],
        mood=Mood(values["mood"]),
        notes=values["notes"] or "",
        answers=values["question_responses"] or (),
    )


def build_feedback(values: dict[str, Any], intake: Intake, match: Match | None) -> Feedback:
    """Feedback by the participant or the buddy of its match, with at least a rating, text or score."""
    match = _required(match, values)
    if all(values[name] is None for name in SCORES) and not values["feedback_text"]:
        raise _invalid("rating", "or feedback_text or a score is required")
    return Feedback(
        **intake.base(values["feedback_id"]),
        match_id=match.record_id,
        author=match.person(values["author_email"]),
        side=_side(match, values["author_email"], "author_email"),
        submitted_at=values["submitted_at"],
        rating=values["rating"],
        text=values["feedback_text"] or "",
        communication=values["communication"],
        helpfulness=values["helpfulness"],
        engagement=values["engagement"],
    )


def _required(match: Match | None, values: dict[str, Any]) -> Match:
    if match is None:  # the handler resolves the match first; this guards a missing reference
        raise unknown_match(values["match_id"] or "")
    return match


def unknown_match(external_id: str) -> MatchUnknown:
    """The error for a reference to a match this company has not sent."""
    message = "no match with this id; send the match first"
    return MatchUnknown(message, metadata={"match_id": external_id}, violations=[FieldViolation("match_id", message)])


def _side(match: Match, email: str, field: str) -> Side:
    side = match.side_of(email)
    if side is None:
        raise _invalid(field, f"is neither the participant nor the buddy of match {match.external_id}")
    return side


Builder = Callable[[dict[str, Any], Intake, Match | None], Record]
BUILDERS: dict[str, Builder] = {
    "matches": build_match,
    "events": build_event,
    "checkins": build_checkin,
    "feedback": build_feedback,
}


class Change(StrEnum):
    """What storing a record did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def reconcile(existing: R | None, incoming: R) -> tuple[R, Change]:
    """A record seen again keeps its platform id: identical content is a no-op, changed content
    updates it, and a change of who it is about is refused (never a silent re-attribution)."""
    if existing is None:
        return incoming, Change.CREATED
    before, after = existing.identity(), incoming.identity()
    changed = [name for name in before if before[name] != after[name]]
    if changed:
        raise RecordConflict(
            f"record {incoming.external_id} already exists with a different {changed[0]}",
            metadata={"external_id": incoming.external_id, "record_id": existing.record_id},
            violations=[FieldViolation(name, "differs from the stored record and cannot change") for name in changed],
        )
    if content(existing) == content(incoming):
        return existing, Change.UNCHANGED
    return revised(existing, incoming, now=incoming.updated_at), Change.UPDATED
