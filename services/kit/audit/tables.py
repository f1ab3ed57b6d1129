"""The audit tables every auditing service's database holds; its revisions create them with frozen DDL."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()

# One row per audited action, hash-chained by sequence; never updated or deleted (a trigger refuses both).
records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("tenant", sa.String(63), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource", sa.String(255), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_records_tenant_sequence", "tenant", "sequence"),
    sa.Index("ix_audit_records_action_sequence", "action", "sequence"),
)

# A signature over the chain's head at one sequence: records up to it cannot change or vanish unnoticed.
checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("signed_at", UtcDateTime(), nullable=False),
    sa.Column("key_id", sa.String(128), nullable=False),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)
