"""Quarantined CSV rows sealed at rest (expand step): each quarantined row gets its batch's `company_id` and
the `profile_id` of the person it names, indexed together; the downgrade refuses while any row is sealed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from services.kit.persistence.frozen_revisions.sealed_values_v1 import refuse_while_sealed

SEALED = {"quarantined_rows": ["raw", "errors"]}


def upgrade(op: Any) -> None:
    add_columns(op)


def downgrade(op: Any, service: str) -> None:
    refuse_while_sealed(op, service, SEALED)
    drop_columns(op)


def add_columns(op: Any) -> None:
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.add_column(sa.Column("company_id", sa.String(63), nullable=False, server_default=""))
        batch.add_column(sa.Column("profile_id", sa.String(36), nullable=True))
        batch.create_index("ix_quarantined_rows_profile", ["company_id", "profile_id"])


def drop_columns(op: Any) -> None:
    with op.batch_alter_table("quarantined_rows") as batch:
        batch.drop_index("ix_quarantined_rows_profile")
        batch.drop_column("profile_id")
        batch.drop_column("company_id")
