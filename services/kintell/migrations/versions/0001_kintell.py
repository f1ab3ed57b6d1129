"""Kintell sessions, ratings, webhook deliveries, import batches, outbox and inbox."""

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import import_tables_v1, outbox_inbox_v1

revision = "0001"
down_revision = None


def _person(role: str) -> list[sa.Column[str]]:
    return [
        sa.Column(f"{role}_email", sa.String(255), nullable=False),
        sa.Column(f"{role}_external_id", sa.String(255), nullable=False),
        sa.Column(f"{role}_given_name", sa.String(200), nullable=False),
        sa.Column(f"{role}_family_name", sa.String(200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "kintell_sessions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("external_session_id", sa.String(255), nullable=False),
        sa.Column("session_type", sa.String(20), nullable=False),
        *_person("participant"),
        *_person("volunteer"),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_minutes", sa.Integer, nullable=True),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("feedback_text", sa.Text, nullable=False),
        sa.Column("language_level", sa.String(2), nullable=False),
        sa.Column("topics", sa.Text, nullable=False),
        sa.Column("focus_area", sa.String(255), nullable=False),
        sa.Column("goals_discussed", sa.Text, nullable=False),
        sa.Column("metadata_json", sa.Text, nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("import_batch_id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "external_session_id", name="uq_kintell_sessions_company_external"),
    )
    op.create_index(
        "ix_kintell_sessions_company_scheduled", "kintell_sessions", ["company_id", "scheduled_at", "session_id"]
    )
    op.create_index("ix_kintell_sessions_company_participant", "kintell_sessions", ["company_id", "participant_email"])
    op.create_index("ix_kintell_sessions_company_volunteer", "kintell_sessions", ["company_id", "volunteer_email"])
    op.create_table(
        "kintell_ratings",
        sa.Column("rating_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("kintell_sessions.session_id"), nullable=False),
        sa.Column("external_rating_id", sa.String(255), nullable=True),
        sa.Column("rater_role", sa.String(20), nullable=False),
        sa.Column("rating", sa.Float, nullable=False),
        sa.Column("feedback_text", sa.Text, nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("company_id", "external_rating_id", name="uq_kintell_ratings_company_external"),
    )
    op.create_index("ix_kintell_ratings_session", "kintell_ratings", ["session_id"])
    op.create_table(
        "kintell_webhook_deliveries",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("delivery_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    import_tables_v1.create(op)
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
    import_tables_v1.drop(op)
    op.drop_table("kintell_webhook_deliveries")
    op.drop_index("ix_kintell_ratings_session", "kintell_ratings")
    op.drop_table("kintell_ratings")
    op.drop_index("ix_kintell_sessions_company_volunteer", "kintell_sessions")
    op.drop_index("ix_kintell_sessions_company_participant", "kintell_sessions")
    op.drop_index("ix_kintell_sessions_company_scheduled", "kintell_sessions")
    op.drop_table("kintell_sessions")
