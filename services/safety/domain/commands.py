"""Commands and queries the safety service handles, and the checks of their fields."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.kit.errors import FieldViolation
from services.kit.text_sources import TextSourceType
from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.domain.findings import FindingType
from services.safety.domain.model import ReviewDecision, ReviewStatus, TextSource

MAX_SOURCE_ID_LENGTH = 255
MAX_NOTES_LENGTH = 2000
MAX_REVIEWER_LENGTH = 255
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class ScreenText:
    """Screen one text; persist a flag (and a review) when something is found, unless a dry run."""

    company_id: str
    text: str
    source: TextSource
    dry_run: bool = False


@dataclass(frozen=True)
class ScreenEventText:
    """Screen the text a source event carries (`field` names it) and announce its verdict once per record."""

    company_id: str
    text: str
    source: TextSource
    field: str
    event_type: str
    event_id: str


@dataclass(frozen=True)
class GetFlag:
    """Read one flag."""

    company_id: str
    flag_id: str


@dataclass(frozen=True)
class ListFlags:
    """Flags of a company, newest first; filters combine with AND."""

    company_id: str
    finding_type: FindingType | None = None
    source_text_id: str = ""
    profile_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class GetReview:
    """Read one review."""

    company_id: str
    review_id: str


@dataclass(frozen=True)
class ListReviews:
    """The review queue, oldest first."""

    company_id: str
    status: str = ""
    profile_id: str = ""
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class DecideReview:
    """Approve, reject or escalate a review."""

    company_id: str
    review_id: str
    decision: ReviewDecision | None
    reviewer: str
    notes: str = ""


def _invalid(field: str, description: str) -> InvalidSafetyRequest:
    return InvalidSafetyRequest(f"{field} {description}", violations=[FieldViolation(field, description)])


def require_id(value: str, field: str) -> str:
    """Flag, review and profile ids are UUIDs; anything else is malformed, not missing."""
    if not value:
        raise _invalid(field, "is required")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _invalid(field, "must be a UUID") from None


def optional_id(value: str, field: str) -> str:
    """An id that may be left empty."""
    return require_id(value, field) if value else ""


def text_source(source_text_id: str, source_text_type: TextSourceType | None, profile_id: str) -> TextSource:
    """A checked text source; a record id needs a kind, ad hoc text is `other`."""
    if len(source_text_id) > MAX_SOURCE_ID_LENGTH:
        raise _invalid("source_text_id", f"must be at most {MAX_SOURCE_ID_LENGTH} characters")
    if source_text_id and not _PRINTABLE.match(source_text_id):
        raise _invalid("source_text_id", "must not contain control characters")
    if source_text_type is None:
        if source_text_id:
            raise _invalid("source_text_type", "is required when source_text_id is given")
        source_text_type = TextSourceType.OTHER
    return TextSource(source_text_id, source_text_type, optional_id(profile_id, "profile_id"))


def review_status(value: str) -> ReviewStatus | None:
    """The status filter: a lower-case status name, or empty for all."""
    if not value:
        return None
    try:
        return ReviewStatus(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in ReviewStatus)
        raise _invalid("status", f"must be one of {names}") from None


def decision(value: ReviewDecision | None) -> ReviewDecision:
    """The decision is required."""
    if value is None:
        raise _invalid("decision", "must be approve, reject or escalate")
    return value


def reviewer(value: str) -> str:
    """The reviewer as stored: the caller's token subject, cut to the width of its column."""
    return value[:MAX_REVIEWER_LENGTH]


def notes(value: str) -> str:
    """Reviewer notes, bounded."""
    if len(value) > MAX_NOTES_LENGTH:
        raise _invalid("notes", f"must be at most {MAX_NOTES_LENGTH} characters")
    return value
