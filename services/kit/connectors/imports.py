"""Import batches and quarantined rows, persisted per connector: a batch record with counts and
status, and every invalid row kept (raw values and errors) so its error CSV can be downloaded.

A quarantined row's raw cells and its errors (which quote the refused values) are sealed at rest
(services/kit/connectors/sealing.py) with the key of every person the row names, in turn: each of its
e-mail columns (`email` or `*_email`, in the file's order) holding a valid address names one, by the
same profile id every service derives from company and e-mail. Opening the row needs every one of
those keys, so erasing any person it names erases it (for the others too: it is malformed evidence
kept 90 days, not their record). `profile_id` holds the first person (erasing them finds the row and
deletes it); a row naming nobody is sealed with the company's key (subject "", which no erasure names:
the retention of quarantined rows removes them). Both values are bound to the row's batch. Rows sealed
with one key (the first person's, before every person's was) open the same way; rows written before
sealing keep plain JSON until the online migration (`QUARANTINE.seal_batch`) seals them; reads open
every form."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.audit.records import AuditEntry
from services.kit.audit.trail import AuditTrail, SqlAuditTrail
from services.kit.connectors import cells, withholding
from services.kit.connectors.csvimport import Parsed, Rejected, RowError
from services.kit.connectors.listings import Position, newest_first
from services.kit.connectors.sealing import BATCH, Row, SealedTable
from services.kit.connectors.storage import profile_id_of
from services.kit.persistence.subjects import Holding, Person
from services.kit.persistence.types import UtcDateTime
from services.kit.security import pii
from services.kit.telemetry import metrics

COMPLETED = "completed"
COMPLETED_WITH_ERRORS = "completed_with_errors"

metadata = sa.MetaData()
batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(63), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("schema", sa.String(60), nullable=False),
    sa.Column("schema_version", sa.String(10), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("rows_total", sa.Integer, nullable=False),
    sa.Column("rows_stored", sa.Integer, nullable=False),
    sa.Column("rows_quarantined", sa.Integer, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Retention's range on created_at (raw_imports, and quarantined_rows dated through their batch).
    sa.Index("ix_import_batches_created_at", "created_at"),
    # A company's batches in pages, newest first.
    sa.Index("ix_import_batches_company_created", "company_id", "created_at", "batch_id"),
)
quarantine = sa.Table(
    "quarantined_rows",
    metadata,
    # No foreign key: the revisions that created this table never declared one (frozen history), and
    # rows are only ever written in the same transaction as their batch.
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("row_number", sa.Integer, primary_key=True),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("errors", sa.Text, nullable=False),
    # The batch's company ("" on rows from before sealing until the online migration copies it) and the
    # person whose key seals `raw` and `errors` (NULL: the company's key, or not sealed yet).
    sa.Column("company_id", sa.String(63), nullable=False, server_default=""),
    sa.Column("profile_id", sa.String(36), nullable=True),
    sa.Index("ix_quarantined_rows_profile", "company_id", "profile_id"),
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


_BATCH_COLUMNS = [batches.c[f.name] for f in fields(Batch)]


class ImportBatches(Protocol):
    """One company's import batches."""

    def record(self, *, kind: str, parsed: Parsed[Any], data: bytes, stored: int) -> Batch: ...

    def get(self, batch_id: str) -> Batch | None: ...

    def errors(self, batch_id: str) -> list[RowError]: ...

    def newest(self, *, after: Position | None, size: int) -> list[Batch]: ...


class SqlImportBatches:
    """Import batches of one company in the connector's database, in the caller's transaction."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    def record(self, *, kind: str, parsed: Parsed[Any], data: bytes, stored: int) -> Batch:
        """Stores the batch record and quarantines every invalid row."""
        quarantined = len(parsed.invalid)
        batch = Batch(
            batch_id=str(uuid.uuid4()),
            company_id=self._company_id,
            kind=kind,
            schema=parsed.schema.name,
            schema_version=parsed.schema.version,
            status=COMPLETED_WITH_ERRORS if quarantined else COMPLETED,
            rows_total=parsed.total,
            rows_stored=stored,
            rows_quarantined=quarantined,
            created_at=datetime.now(UTC),
        )
        digest = hashlib.sha256(data).hexdigest()
        self._session.execute(batches.insert().values(**vars(batch), content_sha256=digest))
        if parsed.invalid:
            plain = [_quarantined(batch, r) for r in parsed.invalid]
            cipher = pii.attached(self._session)
            for start in range(0, len(plain), BATCH):
                chunk = QUARANTINE.seal_rows(self._session, cipher, plain[start : start + BATCH])
                self._session.execute(quarantine.insert(), chunk)
        sa.event.listen(self._session, "after_commit", functools.partial(_count_rows, batch), once=True)
        return batch

    def get(self, batch_id: str) -> Batch | None:
        """A batch of this company, if any."""
        query = sa.select(*_BATCH_COLUMNS).where(batches.c.batch_id == batch_id, self._mine())
        row = self._session.execute(query).mappings().first()
        return None if row is None else Batch(**row)

    def errors(self, batch_id: str) -> list[RowError]:
        """Every error of a batch's quarantined rows, in row order (the caller checked the batch is ours)."""
        query = sa.select(quarantine).where(quarantine.c.batch_id == batch_id)
        found = self._session.execute(query.order_by(quarantine.c.row_number)).mappings().all()
        cipher = pii.attached(self._session)
        opened = (QUARANTINE.open(cipher, row)["errors"] for row in found)
        # A row one of whose people was erased is gone ("" when opened): its errors with it.
        return [RowError(**error) for errors in opened if errors for error in json.loads(errors)]

    def newest(self, *, after: Position | None, size: int) -> list[Batch]:
        """Up to `size` + 1 batches of this company, newest first, after the position `after`."""
        query = sa.select(*_BATCH_COLUMNS).where(self._mine())
        query = newest_first(query, time=batches.c.created_at, ident=batches.c.batch_id, start=after, size=size)
        return [Batch(**row) for row in self._session.execute(query).mappings()]

    def _mine(self) -> sa.ColumnElement[bool]:
        return batches.c.company_id == self._company_id


class SqlConnectorRepository:
    """What every connector's SQL repository holds: its session, its company and that company's batches."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id
        self._imports = SqlImportBatches(session, company_id=company_id)
        self._audit = SqlAuditTrail(session)

    @property
    def company_id(self) -> str:
        """The company every query of this repository is scoped to."""
        return self._company_id

    @property
    def imports(self) -> ImportBatches:
        """This company's import batches."""
        return self._imports

    @property
    def audit(self) -> AuditTrail:
        """The audit log, in this repository's transaction."""
        return self._audit


def imported(batch: Batch) -> AuditEntry:
    """The audit entry of an import: which batch, of what, how many rows stored and quarantined (no row data)."""
    after = {
        "kind": batch.kind,
        "schema": f"{batch.schema}@{batch.schema_version}",
        "status": batch.status,
        "rows_total": batch.rows_total,
        "rows_stored": batch.rows_stored,
        "rows_quarantined": batch.rows_quarantined,
    }
    return AuditEntry(
        action="import.completed", resource=f"import:{batch.batch_id}", tenant=batch.company_id, after=after
    )


def _quarantined(batch: Batch, row: Rejected) -> dict[str, object]:
    errors = json.dumps([vars(error) for error in row.errors])
    return {
        "batch_id": batch.batch_id,
        "row_number": row.number,
        "raw": json.dumps(dict(row.raw)),
        "errors": errors,
        "company_id": batch.company_id,
        "profile_id": subject_of(batch.company_id, row.raw),
    }


def subject_of(company_id: str, raw: Mapping[str, str]) -> str | None:
    """The profile id of the first person a CSV row names (see `subjects_of`); None when it names nobody."""
    return next(iter(subjects_of(company_id, raw)), None)


def subjects_of(company_id: str, raw: Mapping[str, str]) -> list[str]:
    """The profile ids of the people a CSV row names, once each, in the file's order: its e-mail columns
    (`email` or `*_email`) holding a valid address."""
    found: list[str] = []
    for name, value in raw.items():
        if name != "email" and not name.endswith("_email"):
            continue
        try:
            found.append(profile_id_of(company_id, cells.email(str(value).strip())))
        except cells.FieldInvalid:
            continue
    return list(dict.fromkeys(found))


def _plain_to_seal(session: orm.Session, where: sa.ColumnElement[bool], batch: int) -> list[dict[str, Any]]:
    """Quarantined rows for the online migration, with their batch's company and the person they name."""
    query = (
        sa.select(quarantine, batches.c.company_id.label("batch_company"))
        .join(batches, batches.c.batch_id == quarantine.c.batch_id)
        .where(where)
        .limit(batch)
    )
    return [_identified(row) for row in session.execute(query).mappings()]


def _named(row: Row) -> list[str]:
    """The people whose keys seal a quarantined row: those its plain raw cells name, else the one its
    `profile_id` names (its raw cells sealed already)."""
    if pii.is_sealed(row["raw"]):
        return [row["profile_id"]] if row["profile_id"] else []
    return subjects_of(row["company_id"], _cells(row["raw"]))


def _identified(row: Row) -> dict[str, Any]:
    """A plain quarantined row from before sealing with its batch's company and the person it names."""
    out = {c.name: row[c.name] for c in quarantine.columns} | {"company_id": row["batch_company"]}
    out["profile_id"] = out["profile_id"] or subject_of(out["company_id"], _cells(row["raw"]))
    return out


def _cells(raw: str) -> dict[str, str]:
    """A quarantined row's raw cells, by column ({} when they are not a JSON object)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


# Sealed with the key of every person the row names in turn (none: the company's key), bound to the batch;
# the online migration copies each row's company from its batch and names its first person.
QUARANTINE = SealedTable.of(
    quarantine,
    record="batch_id",
    layered=dict.fromkeys(("raw", "errors"), _named),
    key=("batch_id", "row_number"),
    written=("company_id", "profile_id"),
    reader=_plain_to_seal,
)
# What export and erasure find of a person among quarantined rows (each connector's SubjectMap holds it);
# an export withholds the cells of the other people a row names (services/kit/connectors/withholding.py).
QUARANTINED = Holding(
    quarantine,
    persons={"subject": Person(profile_id="profile_id", owned=("raw", "errors"))},
    key="batch_id",
    sealed=QUARANTINE.privacy(),
    withhold=withholding.quarantined_row,
)


def _count_rows(batch: Batch, session: orm.Session) -> None:
    """Counts a committed batch's rows in the import metrics (a rolled-back one is not counted)."""
    metrics.IMPORT_ROWS.labels(batch.kind, "accepted").inc(batch.rows_total - batch.rows_quarantined)
    metrics.IMPORT_ROWS.labels(batch.kind, "quarantined").inc(batch.rows_quarantined)
