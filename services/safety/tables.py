"""Safety tables (SQLAlchemy Core); every timestamp is a UtcDateTime."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()

flags = sa.Table(
    "safety_flags",
    metadata,
    sa.Column("flag_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    # NULL for ad hoc text, so the uniqueness below only binds texts that name their record.
    sa.Column("source_text_id", sa.String(255), nullable=True),
    sa.Column("source_text_type", sa.String(40), nullable=False),
    sa.Column("profile_id", sa.String(36), nullable=False),
    sa.Column("findings", sa.Text, nullable=False),
    sa.Column("finding_types", sa.String(80), nullable=False),
    sa.Column("is_unsafe", sa.Boolean, nullable=False),
    sa.Column("requires_review", sa.Boolean, nullable=False),
    sa.Column("review_id", sa.String(36), nullable=True),
    sa.Column("redacted_text", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "source_text_type", "source_text_id", name="uq_safety_flags_source"),
    sa.Index("ix_safety_flags_company_created", "company_id", "created_at"),
    # Retention's range on created_at across companies (flags, and their reviews and decisions with them).
    sa.Index("ix_safety_flags_created_at", "created_at"),
)

reviews = sa.Table(
    "safety_reviews",
    metadata,
    sa.Column("review_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("flag_id", sa.String(36), sa.ForeignKey("safety_flags.flag_id"), nullable=False, unique=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # 3 urgent (self-harm), 2 high (threats), 1 routine: the queue is read highest first.
    sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Index("ix_safety_reviews_company_status_created", "company_id", "status", "created_at"),
    sa.Index("ix_safety_reviews_company_status_priority", "company_id", "status", "priority", "created_at"),
)
# The review queue's order (highest priority first, then oldest first), which no scan of the index above gives.
sa.Index(
    "ix_safety_reviews_queue",
    reviews.c.company_id,
    reviews.c.status,
    reviews.c.priority.desc(),
    reviews.c.created_at,
    reviews.c.review_id,
)

review_actions = sa.Table(
    "safety_review_actions",
    metadata,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.String(36), sa.ForeignKey("safety_reviews.review_id"), nullable=False, index=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reviewer", sa.String(255), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, lease_metadata)
