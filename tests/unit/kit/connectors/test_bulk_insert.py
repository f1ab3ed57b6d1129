"""Rows inserted through one compiled statement are stored exactly as SQLAlchemy's executemany stores them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.connectors.bulk import insert_rows
from services.kit.persistence import db
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("row_id", sa.String(36), primary_key=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("done_at", UtcDateTime, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("count", sa.Integer, nullable=True),
        sa.Column("blob", sa.LargeBinary, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default="none"),
    )


plain, fast = _table("plain"), _table("fast")
stamped = sa.Table(
    "stamped",
    metadata,
    sa.Column("row_id", sa.String(36), primary_key=True),
    sa.Column("tag", sa.String(20), nullable=False, default=lambda: "made-" + uuid.uuid4().hex[:6]),
)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    made = db.create_engine(db.sqlite_url(tmp_path / "bulk.db"))
    metadata.create_all(made)
    return made


def _rows(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    return [
        {
            "row_id": f"r-{i}",
            "at": (start + timedelta(minutes=i, microseconds=i)).astimezone(UTC if i % 2 else None),
            "done_at": None if i % 3 == 0 else start + timedelta(hours=i),
            "score": None if i % 4 == 0 else i / 7,
            "count": i,
            "blob": b"\x00\xff" * (i % 3),
        }
        for i in range(count)
    ]


def _stored(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return list(connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY row_id").all())


def test_rows_over_several_chunks_are_stored_as_executemany_stores_them(engine: sa.Engine) -> None:
    rows = _rows(23)
    with orm.Session(engine) as session, session.begin():
        session.execute(plain.insert(), rows)
        insert_rows(session, fast, rows, chunk=5)
    stored = _stored(engine, "fast")
    assert len(stored) == 23
    assert stored == _stored(engine, "plain")
    assert {row[-1] for row in stored} == {"none"}


def test_a_naive_time_is_refused_as_executemany_refuses_it(engine: sa.Engine) -> None:
    rows = _rows(2)
    rows[1]["at"] = datetime(2026, 3, 1, 10)
    with orm.Session(engine) as session, session.begin(), pytest.raises(ValueError, match="naive"):
        insert_rows(session, fast, rows, chunk=5)


def test_python_side_defaults_are_filled_in_per_row(engine: sa.Engine) -> None:
    with orm.Session(engine) as session, session.begin():
        insert_rows(session, stamped, [{"row_id": "a"}, {"row_id": "b"}], chunk=5)
    tags = [tag for _, tag in _stored(engine, "stamped")]
    assert len(tags) == 2
    assert all(tag.startswith("made-") for tag in tags)


def test_no_rows_write_nothing(engine: sa.Engine) -> None:
    with orm.Session(engine) as session, session.begin():
        insert_rows(session, fast, [], chunk=5)
    assert _stored(engine, "fast") == []
