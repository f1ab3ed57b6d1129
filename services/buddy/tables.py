"""The buddy service's SQL tables (the migrations in migrations/versions are their frozen history).

Every person column group stores, next to the e-mail, the unified profile id derived from
(company, e-mail) on write; event attendees, a list, get one row each in `buddy_event_attendees`.
Personal columns hold sealed values (services/buddy/sealing.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.kit.audit.tables import metadata as audit_metadata
from services.kit.connectors.imports import metadata as import_metadata
from services.kit.connectors.storage import person_columns
from services.kit.messaging.events import metadata as outbox_metadata
from services.kit.persistence.idempotency import metadata as idempotency_metadata
from services.kit.persistence.leases import metadata as lease_metadata
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()
# An attendee's own columns in `buddy_event_attendees` (a Person's fields).
ATTENDEE_FIELDS = ("email", "external_id", "given_name", "family_name")


def _record_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    ]


def _profile_index(table: str, prefix: str) -> sa.Index:
    return sa.Index(f"ix_{table}_{prefix}_profile", "company_id", f"{prefix}_profile_id")


def _unique(name: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint("company_id", "external_id", name=f"uq_{name}_company_external")


matches = sa.Table(
    "buddy_matches",
    metadata,
    *_record_columns(),
    *person_columns("participant", sealed=True),
    *person_columns("buddy", sealed=True),
    sa.Column("matched_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("languages", sa.Text, nullable=False),
    sa.Column("interests", sa.Text, nullable=False),
    # Sealed with the participant's key (services/buddy/sealing.py).
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    _unique("buddy_matches"),
    sa.Index("ix_buddy_matches_participant", "company_id", "participant_email"),
    sa.Index("ix_buddy_matches_buddy", "company_id", "buddy_email"),
    sa.Index("ix_buddy_matches_time", "company_id", "matched_at"),
    _profile_index("buddy_matches", "participant"),
    _profile_index("buddy_matches", "buddy"),
)
events = sa.Table(
    "buddy_events",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(10), nullable=False),
    sa.Column("event_at", UtcDateTime, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("attendees", sa.Text, nullable=False),
    # Whose key seals the description and location: the match's participant ("" for a group event).
    sa.Column("writer_profile_id", sa.String(36), nullable=False, server_default=""),
    _unique("buddy_events"),
    sa.Index("ix_buddy_events_match", "company_id", "match_id"),
    sa.Index("ix_buddy_events_time", "company_id", "event_at"),
)
event_attendees = sa.Table(
    "buddy_event_attendees",
    metadata,
    sa.Column("event_id", sa.String(36), sa.ForeignKey("buddy_events.record_id"), primary_key=True),
    sa.Column("profile_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False),
    # The attendee as the event named them, sealed with their key, and their place in its list.
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    *(sa.Column(name, sa.Text, nullable=False, server_default="") for name in ATTENDEE_FIELDS),
    sa.Index("ix_buddy_event_attendees_profile", "company_id", "profile_id"),
)
checkins = sa.Table(
    "buddy_checkins",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    *person_columns("person", sealed=True),
    sa.Column("side", sa.String(12), nullable=False),
    sa.Column("checkin_at", UtcDateTime, nullable=False),
    sa.Column("mood", sa.String(12), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("answers", sa.Text, nullable=False),
    _unique("buddy_checkins"),
    sa.Index("ix_buddy_checkins_match", "company_id", "match_id"),
    sa.Index("ix_buddy_checkins_time", "company_id", "checkin_at"),
    # By e-mail: the plain e-mail of a row not sealed yet (the profile id's index serves sealed ones).
    sa.Index("ix_buddy_checkins_person", "company_id", "person_email"),
    _profile_index("buddy_checkins", "person"),
)
feedback = sa.Table(
    "buddy_feedback",
    metadata,
    *_record_columns(),
    sa.Column("match_id", sa.String(36), nullable=False),
    *person_columns("author", sealed=True),
    sa.Column("side", sa.String(12), nullable=False),
    sa.Column("submitted_at", UtcDateTime, nullable=False),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("communication", sa.Float, nullable=True),
    sa.Column("helpfulness", sa.Float, nullable=True),
    sa.Column("engagement", sa.Float, nullable=True),
    _unique("buddy_feedback"),
    sa.Index("ix_buddy_feedback_match", "company_id", "match_id"),
    sa.Index("ix_buddy_feedback_time", "company_id", "submitted_at"),
    sa.Index("ix_buddy_feedback_author", "company_id", "author_email"),
    _profile_index("buddy_feedback", "author"),
)
deliveries = sa.Table(
    "buddy_webhook_deliveries",
    metadata,
    sa.Column("company_id", sa.String(63), primary_key=True),
    sa.Column("delivery_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)


# Everything this service's revisions create: its own tables and the kit's it uses. Alembic compares
# against it, and a test checks a database migrated to head matches it exactly.
SCHEMA = (metadata, outbox_metadata, idempotency_metadata, audit_metadata, import_metadata, lease_metadata)
