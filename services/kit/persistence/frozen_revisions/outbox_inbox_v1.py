"""The transactional outbox and the consumer inbox as first shipped."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create(op: Any) -> None:
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop(op: Any) -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_published_at", "outbox")
    op.drop_index("ix_outbox_created_at", "outbox")
    op.drop_table("outbox")
