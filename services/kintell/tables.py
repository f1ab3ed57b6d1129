"""The Kintell connector's SQL tables (the migrations in migrations/versions are their frozen history).

Each person's columns hold, next to the e-mail, the profile id derived from (company, e-mail) on write;
personal columns hold sealed values (services/kintell/sealing.py)."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.connectors.imports import metadata as import_metadata
from services.kit.connectors.storage import person_columns
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()


sessions = sa.Table(
    "kintell_sessions",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("external_session_id", sa.String(255), nullable=False),
    sa.Column("session_type", sa.String(20), nullable=False),
    *person_columns("participant", sealed=True),
    *person_columns("volunteer", sealed=True),
    sa.Column("scheduled_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
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
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "external_session_id", name="uq_kintell_sessions_company_external"),
    sa.Index("ix_kintell_sessions_company_scheduled", "company_id", "scheduled_at", "session_id"),
    sa.Index("ix_kintell_sessions_company_participant", "company_id", "participant_email"),
    sa.Index("ix_kintell_sessions_company_volunteer", "company_id", "volunteer_email"),
    sa.Index("ix_kintell_sessions_company_participant_profile", "company_id", "participant_profile_id"),
    sa.Index("ix_kintell_sessions_company_volunteer_profile", "company_id", "volunteer_profile_id"),
)

ratings = sa.Table(
    "kintell_ratings",
    metadata,
    sa.Column("rating_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("session_id", sa.String(36), sa.ForeignKey("kintell_sessions.session_id"), nullable=False),
    sa.Column("external_rating_id", sa.String(255), nullable=True),
    sa.Column("rater_role", sa.String(20), nullable=False),
    sa.Column("rating", sa.Float, nullable=False),
    sa.Column("feedback_text", sa.Text, nullable=False),
    sa.Column("given_at", UtcDateTime, nullable=False),
    sa.Column("delivery_id", sa.String(255), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "external_rating_id", name="uq_kintell_ratings_company_external"),
    sa.Index("ix_kintell_ratings_session", "session_id"),
)

deliveries = sa.Table(
    "kintell_webhook_deliveries",
    metadata,
    sa.Column("company_id", sa.String(63), primary_key=True),
    sa.Column("delivery_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, import_metadata, lease_metadata)
