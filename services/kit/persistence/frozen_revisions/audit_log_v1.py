"""The audit log: hash-chained audit_records and signed audit_checkpoints, append-only (UPDATE, DELETE and
TRUNCATE refused by triggers)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

TABLES = ("audit_records", "audit_checkpoints")
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION teei_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade(op: Any) -> None:
    op.create_table(
        "audit_records",
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
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
    )
    op.create_index("ix_audit_records_tenant_sequence", "audit_records", ["tenant", "sequence"])
    op.create_index("ix_audit_records_action_sequence", "audit_records", ["action", "sequence"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION teei_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION teei_audit_append_only()"
            )
        return
    for table in TABLES:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {operation} on {table} refused'); END"
            )


def downgrade(op: Any) -> None:
    # Dropping a table drops its triggers; the function goes last (PostgreSQL).
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_records_action_sequence", "audit_records")
    op.drop_index("ix_audit_records_tenant_sequence", "audit_records")
    op.drop_table("audit_records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS teei_audit_append_only()")
