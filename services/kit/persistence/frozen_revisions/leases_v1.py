"""The leases table: a row per lease name, its holder and when it expires."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def upgrade(op: Any) -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade(op: Any) -> None:
    op.drop_table("leases")
