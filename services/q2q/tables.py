"""Q2Q tables (SQLAlchemy Core) and the mapping between their rows and domain records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from services.q2q.domain.classifier import Evidence, Method
from services.q2q.domain.model import (
    PendingState,
    PendingText,
    ScoreFilter,
    ScoreRecord,
    SourceRef,
    SourceType,
    StoredClassification,
)
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Dimension, Label

metadata = sa.MetaData()
_TENANT = 63
_ID = 36
_SOURCE_ID = 255

classifications = sa.Table(
    "q2q_classifications",
    metadata,
    sa.Column("classification_id", sa.String(_ID), primary_key=True),
    sa.Column("company_id", sa.String(_TENANT), nullable=False),
    sa.Column("source_type", sa.String(40), nullable=False),
    sa.Column("source_id", sa.String(_SOURCE_ID), nullable=False),
    sa.Column("profile_id", sa.String(_ID), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("company_id", "source_type", "source_id", name="uq_q2q_classifications_source"),
)
scores = sa.Table(
    "q2q_scores",
    metadata,
    sa.Column("score_id", sa.String(_ID), primary_key=True),
    sa.Column("company_id", sa.String(_TENANT), nullable=False),
    sa.Column(
        "classification_id",
        sa.String(_ID),
        sa.ForeignKey("q2q_classifications.classification_id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("profile_id", sa.String(_ID), nullable=False),
    sa.Column("source_type", sa.String(40), nullable=True),
    sa.Column("source_id", sa.String(_SOURCE_ID), nullable=True),
    sa.Column("dimension", sa.String(20), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.String(255), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_q2q_scores_company_created", "company_id", "created_at", "score_id"),
    sa.Index("ix_q2q_scores_company_profile", "company_id", "profile_id"),
)
evidence = sa.Table(
    "q2q_evidence",
    metadata,
    sa.Column("company_id", sa.String(_TENANT), primary_key=True),
    sa.Column("evidence_hash", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("snippet", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
score_evidence = sa.Table(
    "q2q_score_evidence",
    metadata,
    sa.Column("score_id", sa.String(_ID), sa.ForeignKey("q2q_scores.score_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("evidence_hash", sa.String(64), primary_key=True),
    sa.Column("start_offset", sa.Integer, primary_key=True),
    sa.Column("company_id", sa.String(_TENANT), nullable=False),
    sa.Column("end_offset", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.ForeignKeyConstraint(["company_id", "evidence_hash"], ["q2q_evidence.company_id", "q2q_evidence.evidence_hash"]),
)
pending = sa.Table(
    "q2q_pending_texts",
    metadata,
    sa.Column("company_id", sa.String(_TENANT), primary_key=True),
    sa.Column("source_type", sa.String(40), primary_key=True),
    sa.Column("source_id", sa.String(_SOURCE_ID), primary_key=True),
    sa.Column("profile_id", sa.String(_ID), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("review_id", sa.String(_ID), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


def classification_row(stored: StoredClassification) -> dict[str, Any]:
    """The q2q_classifications row of a classification."""
    return {
        "classification_id": stored.classification_id,
        "company_id": stored.company_id,
        "source_type": stored.source.source_type.value,
        "source_id": stored.source.source_id,
        "profile_id": stored.profile_id,
        "content_hash": stored.content_hash,
        "labels": _labels_text(stored.labels),
        "method": stored.method.value,
        "model_version": stored.model_version,
        "created_at": stored.created_at,
    }


def score_row(record: ScoreRecord) -> dict[str, Any]:
    """The q2q_scores row of a score."""
    return {
        "score_id": record.score_id,
        "company_id": record.company_id,
        "classification_id": record.classification_id or None,
        "profile_id": record.profile_id,
        "source_type": record.source.source_type.value if record.source else None,
        "source_id": record.source.source_id if record.source else None,
        "dimension": record.dimension.value,
        "score": record.score.score,
        "confidence": record.score.confidence,
        "method": record.method.value,
        "model_version": record.model_version,
        "content_hash": record.content_hash,
        "labels": _labels_text(record.labels),
        "recorded_by": record.recorded_by,
        "note": record.note,
        "created_at": record.created_at,
    }


def link_row(record: ScoreRecord, item: Evidence, digest: str) -> dict[str, Any]:
    """The q2q_score_evidence row linking a score to one occurrence of a snippet."""
    return {
        "score_id": record.score_id,
        "evidence_hash": digest,
        "start_offset": item.start,
        "company_id": record.company_id,
        "end_offset": item.end,
        "reason": item.reason[:255],
    }


def pending_row(held: PendingText) -> dict[str, Any]:
    """The q2q_pending_texts row of a held text."""
    return {
        "company_id": held.company_id,
        "source_type": held.source.source_type.value,
        "source_id": held.source.source_id,
        "profile_id": held.profile_id,
        "text": held.text,
        "review_id": held.review_id,
        "state": held.state.value,
        "created_at": held.created_at,
        "updated_at": datetime.now(UTC),
    }


def to_score(row: sa.RowMapping, linked: tuple[Evidence, ...]) -> ScoreRecord:
    """The score record of a q2q_scores row and its linked evidence."""
    source = SourceRef(SourceType(row["source_type"]), row["source_id"]) if row["source_type"] else None
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
        created_at=utc(row["created_at"]),
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
        source=SourceRef(SourceType(row["source_type"]), row["source_id"]),
        content_hash=row["content_hash"],
        labels=_labels_of(row["labels"]),
        evidence=tuple(seen[key] for key in sorted(seen, key=lambda k: (k[0], k[1]))),
        scores=tuple(stored_scores),
        method=Method(row["method"]),
        model_version=row["model_version"],
        created_at=utc(row["created_at"]),
    )


def to_pending(row: sa.RowMapping) -> PendingText:
    """The held text of a q2q_pending_texts row."""
    return PendingText(
        company_id=row["company_id"],
        source=SourceRef(SourceType(row["source_type"]), row["source_id"]),
        profile_id=row["profile_id"],
        text=row["text"],
        review_id=row["review_id"],
        state=PendingState(row["state"]),
        created_at=utc(row["created_at"]),
    )


def filter_conditions(where: ScoreFilter) -> list[sa.ColumnElement[bool]]:
    """SQL conditions of a ScoreFilter."""
    c = scores.c
    conditions: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (c.profile_id, where.profile_id),
        (c.source_id, where.source_id),
        (c.source_type, where.source_type.value if where.source_type else ""),
        (c.dimension, where.dimension.value if where.dimension else ""),
        (c.method, where.method.value if where.method else ""),
    ):
        if value:
            conditions.append(column == value)
    if where.start_time is not None:
        conditions.append(c.created_at >= where.start_time)
    if where.end_time is not None:
        conditions.append(c.created_at < where.end_time)
    return conditions


def utc(value: datetime) -> datetime:
    """Stored times are UTC; SQLite drops the zone."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _labels_text(labels: tuple[Label, ...]) -> str:
    return ",".join(label.value for label in labels)


def _labels_of(text: str) -> tuple[Label, ...]:
    return tuple(Label(code) for code in text.split(",") if code)
