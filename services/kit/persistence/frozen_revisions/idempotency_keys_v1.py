"""The idempotency_keys table: Idempotency-Key claims and stored responses of mutating RPCs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def upgrade(op: Any) -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant", sa.String(63), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("method", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claim_id", sa.String(32), nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade(op: Any) -> None:
    op.drop_index("ix_idempotency_keys_expires_at", "idempotency_keys")
    op.drop_table("idempotency_keys")
