"""Commands and queries the Q2Q service handles."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.kit.text_sources import TextSourceType
from services.q2q.domain.model import ScoreFilter, SourceRef
from services.q2q.domain.taxonomy import Dimension


@dataclass(frozen=True)
class ClassifyText:
    """Classify a text; store the result when `store` (then `source` is required)."""

    company_id: str
    text: str
    profile_id: str
    source_type: TextSourceType | None
    source_id: str
    store: bool


@dataclass(frozen=True)
class ListScores:
    """Stored scores of a company, newest first, filtered."""

    company_id: str
    where: ScoreFilter = field(default_factory=ScoreFilter)
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class RecordManualScore:
    """A person sets a score."""

    company_id: str
    profile_id: str
    source_type: TextSourceType | None
    source_id: str
    dimension: Dimension | None
    score: float
    note: str
    recorded_by: str


@dataclass(frozen=True)
class SourceText:
    """A text arriving from a programme source event, with its screening verdict."""

    company_id: str
    source: SourceRef
    profile_id: str
    text: str
    screened_safe: bool
    screened_unsafe: bool
    review_id: str


@dataclass(frozen=True)
class ReviewDecision:
    """A safety review of a held text was decided."""

    company_id: str
    source: SourceRef
    profile_id: str
    approved: bool
    redacted_text: str
    review_id: str
