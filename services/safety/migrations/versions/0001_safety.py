"""Flags, the review queue with its decision history, and the outbox and inbox of the safety service."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import outbox_inbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "safety_flags",
        sa.Column("flag_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "source_text_type", "source_text_id", name="uq_safety_flags_source"),
    )
    op.create_index("ix_safety_flags_company_created", "safety_flags", ["company_id", "created_at"])
    op.create_table(
        "safety_reviews",
        sa.Column("review_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("flag_id", sa.String(36), sa.ForeignKey("safety_flags.flag_id"), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_safety_reviews_company_status_created", "safety_reviews", ["company_id", "status", "created_at"]
    )
    op.create_table(
        "safety_review_actions",
        sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.String(36), sa.ForeignKey("safety_reviews.review_id"), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reviewer", sa.String(255), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_safety_review_actions_review_id", "safety_review_actions", ["review_id"])
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
    op.drop_index("ix_safety_review_actions_review_id", "safety_review_actions")
    op.drop_table("safety_review_actions")
    op.drop_index("ix_safety_reviews_company_status_created", "safety_reviews")
    op.drop_table("safety_reviews")
    op.drop_index("ix_safety_flags_company_created", "safety_flags")
    op.drop_table("safety_flags")
