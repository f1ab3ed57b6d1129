"""Q2Q tables (SQLAlchemy Core); every timestamp is a UtcDateTime."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

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
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "source_type", "source_id", name="uq_q2q_classifications_source"),
    # Retention's range on created_at (scores class).
    sa.Index("ix_q2q_classifications_created_at", "created_at"),
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
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_q2q_scores_company_created", "company_id", "created_at", "score_id"),
    sa.Index("ix_q2q_scores_company_profile", "company_id", "profile_id"),
    # Retention's range on created_at across companies.
    sa.Index("ix_q2q_scores_created_at", "created_at"),
    # A classification's scores: read with it, and cascaded when retention deletes it.
    sa.Index("ix_q2q_scores_classification_id", "classification_id"),
)
evidence = sa.Table(
    "q2q_evidence",
    metadata,
    sa.Column("company_id", sa.String(_TENANT), primary_key=True),
    sa.Column("evidence_hash", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("snippet", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Whose text the snippet is (its key seals it; services/q2q/sealing.py); NULL on a row shared by hash
    # from before revision 0006, until the online migration splits it per person.
    sa.Column("profile_id", sa.String(_ID), nullable=True),
    # Retention's range on created_at (evidence class: snippets, and the links dated through them).
    sa.Index("ix_q2q_evidence_created_at", "created_at"),
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
    # A snippet's links: joined from expiring snippets, and checked by the foreign key when a snippet goes.
    sa.Index("ix_q2q_score_evidence_evidence", "company_id", "evidence_hash"),
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
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, lease_metadata)
