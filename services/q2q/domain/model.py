"""Q2Q records and input rules: stored classifications, scores, evidence and waiting texts."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.kit.errors import FieldViolation
from services.kit.text_sources import TextSourceType
from services.q2q.domain.classifier import Evidence, Method
from services.q2q.domain.errors import InvalidQ2qRequest
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Dimension, Label

MAX_TEXT_LENGTH = 20_000
MAX_SOURCE_ID_LENGTH = 255
MAX_NOTE_LENGTH = 2_000


@dataclass(frozen=True)
class SourceRef:
    """The record holding a text."""

    source_type: TextSourceType
    source_id: str


@dataclass(frozen=True)
class ScoreRecord:
    """A stored score of one dimension, with the labels and evidence behind it."""

    score_id: str
    classification_id: str
    company_id: str
    profile_id: str
    source: SourceRef | None
    dimension: Dimension
    score: DimensionScore
    method: Method
    model_version: str
    content_hash: str
    labels: tuple[Label, ...]
    evidence: tuple[Evidence, ...]
    recorded_by: str
    note: str
    created_at: datetime


@dataclass(frozen=True)
class ScoreFilter:
    """Conditions of a score listing (all optional, combined with AND)."""

    profile_id: str = ""
    source_id: str = ""
    source_type: TextSourceType | None = None
    dimension: Dimension | None = None
    method: Method | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True)
class StoredClassification:
    """A classified text: what the classifier said and the scores kept for it."""

    classification_id: str
    company_id: str
    profile_id: str
    source: SourceRef
    content_hash: str
    labels: tuple[Label, ...]
    evidence: tuple[Evidence, ...]
    scores: tuple[ScoreRecord, ...]
    method: Method
    model_version: str
    created_at: datetime


class PendingState(StrEnum):
    """Where a held text stands: waiting for Safety to answer, waiting for a review, or decided."""

    # Kept unscreened (as submitted) only until Safety answers; see services/q2q/screening/retrier.py.
    AWAITING_SCREENING = "awaiting_screening"
    AWAITING_REVIEW = "awaiting_review"
    RELEASED = "released"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PendingText:
    """A text not screened safe yet: held redacted until a review decides, or as submitted while awaiting screening."""

    company_id: str
    source: SourceRef
    profile_id: str
    text: str
    review_id: str
    state: PendingState
    created_at: datetime


def content_hash(text: str) -> str:
    """SHA-256 (hex) of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A fresh platform id."""
    return str(uuid.uuid4())


def check_text(text: str, field: str = "text") -> list[FieldViolation]:
    """Violations of the text rules: required, at most MAX_TEXT_LENGTH characters."""
    if not text.strip():
        return [FieldViolation(field, "is required")]
    if len(text) > MAX_TEXT_LENGTH:
        return [FieldViolation(field, f"must be at most {MAX_TEXT_LENGTH} characters")]
    return []


def check_profile_id(profile_id: str, *, required: bool, field: str = "profile_id") -> list[FieldViolation]:
    """Profile ids are UUIDs; empty is allowed unless required."""
    if not profile_id:
        return [FieldViolation(field, "is required")] if required else []
    try:
        uuid.UUID(profile_id)
    except ValueError:
        return [FieldViolation(field, "must be a UUID")]
    return []


def check_source_id(source_id: str, *, required: bool, field: str = "source_text_id") -> list[FieldViolation]:
    """Source ids are opaque, 1-255 printable characters."""
    if not source_id:
        return [FieldViolation(field, "is required when storing")] if required else []
    if len(source_id) > MAX_SOURCE_ID_LENGTH or not source_id.isprintable():
        return [FieldViolation(field, f"must be 1-{MAX_SOURCE_ID_LENGTH} printable characters")]
    return []


def reject_if(violations: list[FieldViolation], message: str) -> None:
    """Raises InvalidQ2qRequest naming every violation, if any."""
    if violations:
        raise InvalidQ2qRequest(message, violations=violations)
