"""Create course progress, credentials, webhook deliveries, import batches and the event outbox/inbox."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import import_tables_v1, outbox_inbox_v1

revision = "0001"
down_revision = None


def _course() -> list[sa.Column[Any]]:
    return [
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_name", sa.String(100), nullable=False),
        sa.Column("course_id", sa.String(255), nullable=False),
        sa.Column("course_name", sa.String(500), nullable=False),
    ]


def _learner() -> list[sa.Column[Any]]:
    return [
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
    ]


def _source() -> list[sa.Column[Any]]:
    return [
        sa.Column("source_channel", sa.String(20), nullable=False),
        sa.Column("source_batch_id", sa.String(36), nullable=False),
        sa.Column("source_delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "upskilling_progress",
        sa.Column("progress_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        *_course(),
        sa.Column("course_url", sa.String(2000), nullable=False),
        sa.Column("learner_key", sa.String(300), nullable=False),
        *_learner(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("percent", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_score", sa.Float, nullable=True),
        sa.Column("metadata_json", sa.Text, nullable=False),
        *_source(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "company_id", "provider", "provider_name", "course_id", "learner_key", name="uq_upskilling_progress_learner"
        ),
    )
    op.create_index("ix_upskilling_progress_company_email", "upskilling_progress", ["company_id", "email"])
    op.create_index("ix_upskilling_progress_company_updated", "upskilling_progress", ["company_id", "updated_at"])
    op.create_table(
        "upskilling_credentials",
        sa.Column("credential_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("credential_key", sa.String(800), nullable=False),
        sa.Column("external_credential_id", sa.String(255), nullable=False),
        *_course(),
        *_learner(),
        sa.Column("credential_type", sa.String(20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("verification_code", sa.String(255), nullable=False),
        *_source(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "company_id", "provider", "provider_name", "credential_key", name="uq_upskilling_credential"
        ),
    )
    op.create_index("ix_upskilling_credentials_company_email", "upskilling_credentials", ["company_id", "email"])
    op.create_table(
        "upskilling_webhook_deliveries",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("provider", sa.String(20), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    import_tables_v1.create(op)
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
    import_tables_v1.drop(op)
    op.drop_table("upskilling_webhook_deliveries")
    op.drop_index("ix_upskilling_credentials_company_email", "upskilling_credentials")
    op.drop_table("upskilling_credentials")
    op.drop_index("ix_upskilling_progress_company_updated", "upskilling_progress")
    op.drop_index("ix_upskilling_progress_company_email", "upskilling_progress")
    op.drop_table("upskilling_progress")
