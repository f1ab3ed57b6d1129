"""Builds Buddy records from validated rows, applying the rules that span fields and records, and
decides what a record seen again does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.buddy.domain.csv_schemas import BuddyRow, CheckInRow, EventRow, FeedbackRow, MatchRow
from services.buddy.domain.errors import InvalidBuddyRequest, MatchUnknown, RecordConflict
from services.buddy.domain.model import (
    BuddyEvent,
    CheckIn,
    Feedback,
    Match,
    MatchStatus,
    R,
    Record,
    Side,
    content,
    revised,
)
from services.kit.connectors.model import Person, Provenance
from services.kit.errors import FieldViolation


@dataclass(frozen=True)
class Intake:
    """Where and when a record arrived, for the company it belongs to."""

    company_id: str
    provenance: Provenance

    def head(self, external_id: str) -> tuple[str, str, str, Provenance, datetime, datetime]:
        """The common fields of a new record, in `Record`'s order."""
        now = self.provenance.received_at
        return str(uuid.uuid4()), self.company_id, external_id, self.provenance, now, now


def _invalid(field: str, message: str) -> InvalidBuddyRequest:
    return InvalidBuddyRequest(f"{field} {message}", violations=[FieldViolation(field, message)])


def build(row: BuddyRow, intake: Intake, match: Match | None) -> Record:
    """The record a row reports; records of a match take their people from it."""
    if isinstance(row, MatchRow):
        return build_match(row, intake)
    if isinstance(row, EventRow):
        return build_event(row, intake, match)
    if match is None:  # the handler resolves the match first; this guards a missing reference
        raise unknown_match(row.match_reference)
    if isinstance(row, CheckInRow):
        return build_checkin(row, intake, match)
    if isinstance(row, FeedbackRow):
        return build_feedback(row, intake, match)
    raise TypeError(f"no record for {type(row).__name__}")


def build_match(row: MatchRow, intake: Intake) -> Match:
    """A match; its two people must differ and only an ended match may have an end time."""
    participant = Person(
        row.participant_email,
        row.participant_external_id or "",
        row.participant_given_name or "",
        row.participant_family_name or "",
    )
    buddy = Person(
        row.buddy_email, row.buddy_external_id or "", row.buddy_given_name or "", row.buddy_family_name or ""
    )
    status, ended_at = row.status or MatchStatus.ACTIVE, row.ended_at
    if participant.email == buddy.email:
        raise _invalid("buddy_email", "must differ from participant_email")
    if ended_at is not None and status is not MatchStatus.ENDED:
        raise _invalid("ended_at", "is only allowed when status is ended")
    if ended_at is not None and ended_at < row.matched_at:
        raise _invalid("ended_at", "must not be before matched_at")
    return Match(
        *intake.head(row.match_id),
        participant=participant,
        buddy=buddy,
        matched_at=row.matched_at,
        status=status,
        languages=row.languages or (),
        interests=row.interests or (),
        location=row.location or "",
        ended_at=ended_at,
    )


def build_event(row: EventRow, intake: Intake, match: Match | None) -> BuddyEvent:
    """An event; attendees who are members of its match carry their Buddy ids."""
    attendees = tuple(match.person(e) if match else Person(e) for e in row.attendee_emails)
    return BuddyEvent(
        *intake.head(row.event_id),
        match_id=match.record_id if match else "",
        event_type=row.event_type,
        event_at=row.event_date,
        description=row.description or "",
        location=row.location or "",
        attendees=attendees,
    )


def build_checkin(row: CheckInRow, intake: Intake, match: Match) -> CheckIn:
    """A check-in by the participant or the buddy of its match."""
    return CheckIn(
        *intake.head(row.checkin_id),
        match_id=match.record_id,
        person=match.person(row.person_email),
        side=_side(match, row.person_email, "person_email"),
        checkin_at=row.checkin_date,
        mood=row.mood,
        notes=row.notes or "",
        answers=row.question_responses or (),
    )


def build_feedback(row: FeedbackRow, intake: Intake, match: Match) -> Feedback:
    """Feedback by the participant or the buddy of its match, with at least a rating, text or score."""
    scores = (row.rating, row.communication, row.helpfulness, row.engagement)
    if all(score is None for score in scores) and not row.feedback_text:
        raise _invalid("rating", "or feedback_text or a score is required")
    return Feedback(
        *intake.head(row.feedback_id),
        match_id=match.record_id,
        author=match.person(row.author_email),
        side=_side(match, row.author_email, "author_email"),
        submitted_at=row.submitted_at,
        rating=row.rating,
        text=row.feedback_text or "",
        communication=row.communication,
        helpfulness=row.helpfulness,
        engagement=row.engagement,
    )


def unknown_match(external_id: str) -> MatchUnknown:
    """The error for a reference to a match this company has not sent."""
    message = "no match with this id; send the match first"
    return MatchUnknown(message, metadata={"match_id": external_id}, violations=[FieldViolation("match_id", message)])


def _side(match: Match, email: str, field: str) -> Side:
    side = match.side_of(email)
    if side is None:
        raise _invalid(field, f"is neither the participant nor the buddy of match {match.external_id}")
    return side


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
