"""The tables of CSV imports as first shipped: import_batches and quarantined_rows (no foreign key
between them)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def create(op: Any) -> None:
    op.create_table(
        "import_batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("schema", sa.String(60), nullable=False),
        sa.Column("schema_version", sa.String(10), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_stored", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_import_batches_company_id", "import_batches", ["company_id"])
    # No foreign key to import_batches: the DDL first shipped had none.
    op.create_table(
        "quarantined_rows",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
    )


def drop(op: Any) -> None:
    op.drop_table("quarantined_rows")
    op.drop_index("ix_import_batches_company_id", "import_batches")
    op.drop_table("import_batches")
