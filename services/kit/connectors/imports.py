"""Import batches and quarantined rows, persisted per connector: a batch record with counts and
status, and every invalid row kept (raw values and errors) so its error CSV can be downloaded."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors.csvimport import Parsed, RowError

COMPLETED = "completed"
COMPLETED_WITH_ERRORS = "completed_with_errors"

metadata = sa.MetaData()
batches = sa.Table(
    "import_batches",
    metadata,
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
quarantine = sa.Table(
    "quarantined_rows",
    metadata,
    sa.Column("batch_id", sa.String(36), sa.ForeignKey("import_batches.batch_id"), primary_key=True),
    sa.Column("row_number", sa.Integer, primary_key=True),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("errors", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Batch:
    """What an import did."""

    batch_id: str
    company_id: str
    kind: str
    schema: str
    schema_version: str
    status: str
    rows_total: int
    rows_stored: int
    rows_quarantined: int
    created_at: datetime


def record_batch(
    session: orm.Session, *, company_id: str, kind: str, parsed: Parsed, data: bytes, stored: int
) -> Batch:
    """Stores the batch record and quarantines every invalid row, in the caller's transaction."""
    quarantined = len(parsed.invalid)
    batch = Batch(
        batch_id=str(uuid.uuid4()),
        company_id=company_id,
        kind=kind,
        schema=parsed.schema.name,
        schema_version=parsed.schema.version,
        status=COMPLETED_WITH_ERRORS if quarantined else COMPLETED,
        rows_total=parsed.total,
        rows_stored=stored,
        rows_quarantined=quarantined,
        created_at=datetime.now(UTC),
    )
    session.execute(batches.insert().values(**vars(batch), content_sha256=hashlib.sha256(data).hexdigest()))
    if parsed.invalid:
        session.execute(
            quarantine.insert(),
            [
                {
                    "batch_id": batch.batch_id,
                    "row_number": r.number,
                    "raw": json.dumps(r.raw),
                    "errors": json.dumps([vars(e) for e in r.errors]),
                }
                for r in parsed.invalid
            ],
        )
    return batch


def get_batch(session: orm.Session, *, company_id: str, batch_id: str) -> Batch | None:
    """A batch of this company, if any."""
    row = (
        session.execute(
            sa.select(*[batches.c[name] for name in Batch.__dataclass_fields__]).where(
                batches.c.batch_id == batch_id, batches.c.company_id == company_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    values: dict[str, Any] = dict(row)
    if values["created_at"].tzinfo is None:
        values["created_at"] = values["created_at"].replace(tzinfo=UTC)
    return Batch(**values)


def row_errors(session: orm.Session, *, batch_id: str) -> list[RowError]:
    """Every error of a batch's quarantined rows, in row order."""
    rows = session.execute(
        sa.select(quarantine.c.errors).where(quarantine.c.batch_id == batch_id).order_by(quarantine.c.row_number)
    ).scalars()
    return [RowError(**error) for raw in rows for error in json.loads(raw)]


def create_tables(op: Any) -> None:
    """For a connector's Alembic migration."""
    op.create_table(*_copy(batches))
    op.create_index("ix_import_batches_company_id", "import_batches", ["company_id"])
    op.create_table(*_copy(quarantine))


def drop_tables(op: Any) -> None:
    """Reverts create_tables."""
    op.drop_table("quarantined_rows")
    op.drop_index("ix_import_batches_company_id", "import_batches")
    op.drop_table("import_batches")


def _copy(table: sa.Table) -> list[Any]:
    columns: list[Any] = [c._copy() for c in table.columns]
    return [table.name, *columns]
