"""Create the Q2Q tables (classifications, scores, evidence, held texts) and the event outbox/inbox."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import outbox_inbox_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "q2q_classifications",
        sa.Column("classification_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("source_type", sa.String(40), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "source_type", "source_id", name="uq_q2q_classifications_source"),
    )
    op.create_table(
        "q2q_scores",
        sa.Column("score_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column(
            "classification_id",
            sa.String(36),
            sa.ForeignKey("q2q_classifications.classification_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(40), nullable=True),
        sa.Column("source_id", sa.String(255), nullable=True),
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
    )
    op.create_index("ix_q2q_scores_company_created", "q2q_scores", ["company_id", "created_at", "score_id"])
    op.create_index("ix_q2q_scores_company_profile", "q2q_scores", ["company_id", "profile_id"])
    op.create_table(
        "q2q_evidence",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("evidence_hash", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("snippet", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "q2q_score_evidence",
        sa.Column(
            "score_id", sa.String(36), sa.ForeignKey("q2q_scores.score_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("evidence_hash", sa.String(64), primary_key=True),
        sa.Column("start_offset", sa.Integer, primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("end_offset", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id", "evidence_hash"], ["q2q_evidence.company_id", "q2q_evidence.evidence_hash"]
        ),
    )
    op.create_table(
        "q2q_pending_texts",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("source_type", sa.String(40), primary_key=True),
        sa.Column("source_id", sa.String(255), primary_key=True),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("review_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
    op.drop_table("q2q_pending_texts")
    op.drop_table("q2q_score_evidence")
    op.drop_table("q2q_evidence")
    op.drop_index("ix_q2q_scores_company_profile", "q2q_scores")
    op.drop_index("ix_q2q_scores_company_created", "q2q_scores")
    op.drop_table("q2q_scores")
    op.drop_table("q2q_classifications")
