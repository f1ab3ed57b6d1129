"""Q2Q rows ⇄ domain records: what each table stores of a record, and the record a row stands for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

import sqlalchemy as sa

from services.kit.text_sources import TextSourceType
from services.q2q.domain.classifier import Evidence, Method
from services.q2q.domain.model import PendingState, PendingText, ScoreRecord, SourceRef, StoredClassification
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Dimension, Label


class ClassificationRow(TypedDict):
    """A q2q_classifications row."""

    classification_id: str
    company_id: str
    source_type: str
    source_id: str
    profile_id: str
    content_hash: str
    labels: str
    method: str
    model_version: str
    created_at: datetime


class ScoreRow(TypedDict):
    """A q2q_scores row."""

    score_id: str
    company_id: str
    classification_id: str | None
    profile_id: str
    source_type: str | None
    source_id: str | None
    dimension: str
    score: float
    confidence: float
    method: str
    model_version: str
    content_hash: str
    labels: str
    recorded_by: str
    note: str
    created_at: datetime


class SnippetRow(TypedDict):
    """A q2q_evidence row: one snippet of one person's text, stored once per person and hash."""

    company_id: str
    evidence_hash: str
    label: str
    snippet: str
    created_at: datetime
    profile_id: str


class LinkRow(TypedDict):
    """A q2q_score_evidence row: one occurrence of a snippet behind a score."""

    score_id: str
    evidence_hash: str
    start_offset: int
    company_id: str
    end_offset: int
    reason: str


class PendingRow(TypedDict):
    """A q2q_pending_texts row."""

    company_id: str
    source_type: str
    source_id: str
    profile_id: str
    text: str
    review_id: str
    state: str
    created_at: datetime
    updated_at: datetime


def classification_row(stored: StoredClassification) -> ClassificationRow:
    """The q2q_classifications row of a classification."""
    return ClassificationRow(
        classification_id=stored.classification_id,
        company_id=stored.company_id,
        source_type=stored.source.source_type.value,
        source_id=stored.source.source_id,
        profile_id=stored.profile_id,
        content_hash=stored.content_hash,
        labels=_labels_text(stored.labels),
        method=stored.method.value,
        model_version=stored.model_version,
        created_at=stored.created_at,
    )


def score_row(record: ScoreRecord) -> ScoreRow:
    """The q2q_scores row of a score."""
    return ScoreRow(
        score_id=record.score_id,
        company_id=record.company_id,
        classification_id=record.classification_id or None,
        profile_id=record.profile_id,
        source_type=record.source.source_type.value if record.source else None,
        source_id=record.source.source_id if record.source else None,
        dimension=record.dimension.value,
        score=record.score.score,
        confidence=record.score.confidence,
        method=record.method.value,
        model_version=record.model_version,
        content_hash=record.content_hash,
        labels=_labels_text(record.labels),
        recorded_by=record.recorded_by,
        note=record.note,
        created_at=record.created_at,
    )


def snippet_row(record: ScoreRecord, digest: str, item: Evidence, *, created_at: datetime) -> SnippetRow:
    """The q2q_evidence row of a snippet behind a score: the scored person's."""
    return SnippetRow(
        company_id=record.company_id,
        evidence_hash=digest,
        label=item.label.value,
        snippet=item.text,
        created_at=created_at,
        profile_id=record.profile_id,
    )


def link_row(record: ScoreRecord, item: Evidence, digest: str) -> LinkRow:
    """The q2q_score_evidence row linking a score to one occurrence of a snippet."""
    return LinkRow(
        score_id=record.score_id,
        evidence_hash=digest,
        start_offset=item.start,
        company_id=record.company_id,
        end_offset=item.end,
        reason=item.reason[:255],
    )


def pending_row(held: PendingText, *, updated_at: datetime) -> PendingRow:
    """The q2q_pending_texts row of a held text."""
    return PendingRow(
        company_id=held.company_id,
        source_type=held.source.source_type.value,
        source_id=held.source.source_id,
        profile_id=held.profile_id,
        text=held.text,
        review_id=held.review_id,
        state=held.state.value,
        created_at=held.created_at,
        updated_at=updated_at,
    )


def to_evidence(row: Mapping[str, Any]) -> Evidence:
    """The evidence span of a snippet joined with one of its links."""
    return Evidence(Label(row["label"]), row["snippet"], row["start_offset"], row["end_offset"], row["reason"])


def to_score(row: Mapping[str, Any], linked: tuple[Evidence, ...]) -> ScoreRecord:
    """The score record of a q2q_scores row and its linked evidence."""
    source = SourceRef(TextSourceType(row["source_type"]), row["source_id"]) if row["source_type"] else None
    dimension = Dimension(row["dimension"])
    return ScoreRecord(
        score_id=row["score_id"],
        classification_id=row["classification_id"] or "",
        company_id=row["company_id"],
        profile_id=row["profile_id"],
        source=source,
        dimension=dimension,
        score=DimensionScore(dimension, row["score"], row["confidence"]),
        method=Method(row["method"]),
        model_version=row["model_version"],
        content_hash=row["content_hash"],
        labels=_labels_of(row["labels"]),
        evidence=linked,
        recorded_by=row["recorded_by"],
        note=row["note"],
        created_at=row["created_at"],
    )


def to_classification(row: sa.RowMapping, stored_scores: list[ScoreRecord]) -> StoredClassification:
    """The classification of a q2q_classifications row and its scores."""
    seen: dict[tuple[int, int, Label], Evidence] = {}
    for record in stored_scores:
        for item in record.evidence:
            seen.setdefault((item.start, item.end, item.label), item)
    return StoredClassification(
        classification_id=row["classification_id"],
        company_id=row["company_id"],
        profile_id=row["profile_id"],
        source=SourceRef(TextSourceType(row["source_type"]), row["source_id"]),
        content_hash=row["content_hash"],
        labels=_labels_of(row["labels"]),
        evidence=tuple(seen[key] for key in sorted(seen, key=lambda k: (k[0], k[1]))),
        scores=tuple(stored_scores),
        method=Method(row["method"]),
        model_version=row["model_version"],
        created_at=row["created_at"],
    )


def to_pending(row: Mapping[str, Any]) -> PendingText:
    """The held text of a q2q_pending_texts row."""
    return PendingText(
        company_id=row["company_id"],
        source=SourceRef(TextSourceType(row["source_type"]), row["source_id"]),
        profile_id=row["profile_id"],
        text=row["text"],
        review_id=row["review_id"],
        state=PendingState(row["state"]),
        created_at=row["created_at"],
    )


def _labels_text(labels: tuple[Label, ...]) -> str:
    return ",".join(label.value for label in labels)


def _labels_of(text: str) -> tuple[Label, ...]:
    return tuple(Label(code) for code in text.split(",") if code)
