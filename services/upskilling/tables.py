"""SQLAlchemy Core tables of the upskilling connector (the migration creates the same shapes).

A learner's columns and what is recorded about them hold sealed values; `profile_id` (derived from company
and e-mail) and `external_index` (the provider id's blind index) are what look-ups compare
(services/upskilling/sealing.py)."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.connectors.imports import metadata as import_metadata
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()


def _learner_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("given_name", sa.Text, nullable=False),
        sa.Column("family_name", sa.Text, nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("external_index", sa.String(64), nullable=False, server_default=""),
    ]


def _course_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("provider_name", sa.String(100), nullable=False),
        sa.Column("course_id", sa.String(255), nullable=False),
        sa.Column("course_name", sa.String(500), nullable=False),
    ]


def _source_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("source_channel", sa.String(20), nullable=False),
        sa.Column("source_batch_id", sa.String(36), nullable=False),
        sa.Column("source_delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
    ]


progress = sa.Table(
    "upskilling_progress",
    metadata,
    sa.Column("progress_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    *_course_columns(),
    sa.Column("course_url", sa.String(2000), nullable=False),
    sa.Column("learner_key", sa.String(300), nullable=False),
    *_learner_columns(),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("percent", sa.Float, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("final_score", sa.Float, nullable=True),
    sa.Column("metadata_json", sa.Text, nullable=False),
    *_source_columns(),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint(
        "company_id", "provider", "provider_name", "course_id", "learner_key", name="uq_upskilling_progress_learner"
    ),
    sa.Index("ix_upskilling_progress_company_email", "company_id", "email"),
    sa.Index("ix_upskilling_progress_company_profile", "company_id", "profile_id"),
    sa.Index("ix_upskilling_progress_company_external", "company_id", "external_index"),
    sa.Index("ix_upskilling_progress_company_updated", "company_id", "updated_at"),
)

credentials = sa.Table(
    "upskilling_credentials",
    metadata,
    sa.Column("credential_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    sa.Column("credential_key", sa.String(800), nullable=False),
    sa.Column("external_credential_id", sa.String(255), nullable=False),
    *_course_columns(),
    *_learner_columns(),
    sa.Column("credential_type", sa.String(20), nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("verification_code", sa.Text, nullable=False),
    *_source_columns(),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("company_id", "provider", "provider_name", "credential_key", name="uq_upskilling_credential"),
    sa.Index("ix_upskilling_credentials_company_email", "company_id", "email"),
    sa.Index("ix_upskilling_credentials_company_profile", "company_id", "profile_id"),
    sa.Index("ix_upskilling_credentials_company_external", "company_id", "external_index"),
    # A company's credentials in pages, newest issue first.
    sa.Index("ix_upskilling_credentials_company_issued", "company_id", "issued_at", "credential_id"),
)

deliveries = sa.Table(
    "upskilling_webhook_deliveries",
    metadata,
    sa.Column("company_id", sa.String(63), primary_key=True),
    sa.Column("provider", sa.String(20), primary_key=True),
    # The delivery's signed webhook-id (the de-duplication key); named event_id since revision 0001.
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, import_metadata, lease_metadata)
