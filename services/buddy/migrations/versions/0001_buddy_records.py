"""Create the buddy records, webhook deliveries, import batches and outbox/inbox tables."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from services.kit.persistence.frozen_revisions import import_tables_v1, outbox_inbox_v1

revision = "0001"
down_revision = None

When = sa.DateTime(timezone=True)
TIMES = {
    "buddy_matches": "matched_at",
    "buddy_events": "event_at",
    "buddy_checkins": "checkin_at",
    "buddy_feedback": "submitted_at",
}


def _record() -> list[sa.Column[Any]]:
    return [
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    ]


def _person(prefix: str) -> list[sa.Column[Any]]:
    return [
        sa.Column(f"{prefix}_email", sa.String(255), nullable=False),
        sa.Column(f"{prefix}_external_id", sa.String(255), nullable=False),
        sa.Column(f"{prefix}_given_name", sa.String(200), nullable=False),
        sa.Column(f"{prefix}_family_name", sa.String(200), nullable=False),
    ]


def _table(name: str, *columns: sa.Column[Any]) -> None:
    unique = sa.UniqueConstraint("company_id", "external_id", name=f"uq_{name}_company_external")
    op.create_table(name, *_record(), *columns, unique)
    op.create_index(f"ix_{name}_time", name, ["company_id", TIMES[name]])
    if name != "buddy_matches":
        op.create_index(f"ix_{name}_match", name, ["company_id", "match_id"])


def upgrade() -> None:
    _table(
        "buddy_matches",
        *_person("participant"),
        *_person("buddy"),
        sa.Column("matched_at", When, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("languages", sa.Text, nullable=False),
        sa.Column("interests", sa.Text, nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("ended_at", When, nullable=True),
    )
    op.create_index("ix_buddy_matches_participant", "buddy_matches", ["company_id", "participant_email"])
    op.create_index("ix_buddy_matches_buddy", "buddy_matches", ["company_id", "buddy_email"])
    _table(
        "buddy_events",
        sa.Column("match_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(10), nullable=False),
        sa.Column("event_at", When, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("location", sa.String(255), nullable=False),
        sa.Column("attendees", sa.Text, nullable=False),
    )
    _table(
        "buddy_checkins",
        sa.Column("match_id", sa.String(36), nullable=False),
        *_person("person"),
        sa.Column("side", sa.String(12), nullable=False),
        sa.Column("checkin_at", When, nullable=False),
        sa.Column("mood", sa.String(12), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
    )
    _table(
        "buddy_feedback",
        sa.Column("match_id", sa.String(36), nullable=False),
        *_person("author"),
        sa.Column("side", sa.String(12), nullable=False),
        sa.Column("submitted_at", When, nullable=False),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("communication", sa.Float, nullable=True),
        sa.Column("helpfulness", sa.Float, nullable=True),
        sa.Column("engagement", sa.Float, nullable=True),
    )
    op.create_table(
        "buddy_webhook_deliveries",
        sa.Column("company_id", sa.String(63), primary_key=True),
        sa.Column("delivery_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("received_at", When, nullable=False),
    )
    import_tables_v1.create(op)
    outbox_inbox_v1.create(op)


def downgrade() -> None:
    outbox_inbox_v1.drop(op)
    import_tables_v1.drop(op)
    op.drop_table("buddy_webhook_deliveries")
    for name in reversed(TIMES):
        if name != "buddy_matches":
            op.drop_index(f"ix_{name}_match", name)
        op.drop_index(f"ix_{name}_time", name)
    op.drop_index("ix_buddy_matches_buddy", "buddy_matches")
    op.drop_index("ix_buddy_matches_participant", "buddy_matches")
    for name in reversed(TIMES):
        op.drop_table(name)
