"""UtcDateTime: aware times in, aware UTC times out, whatever zone they were written in; naive refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()
stamps = sa.Table(
    "stamps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=True),
)
SQLITE = sa.create_engine("sqlite://").dialect
POSTGRESQL = sa.create_engine("postgresql+psycopg://").dialect


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _round_trip(engine: sa.Engine, value: datetime | None) -> datetime | None:
    with engine.begin() as connection:
        connection.execute(stamps.insert().values(id=1, at=value))
        stored: datetime | None = connection.execute(sa.select(stamps.c.at)).scalar_one()
    return stored


def test_an_aware_utc_time_comes_back_aware_and_equal(engine: sa.Engine) -> None:
    at = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    stored = _round_trip(engine, at)
    assert stored is not None
    assert stored == at
    assert stored.tzinfo == UTC


@pytest.mark.parametrize("zone", [timezone(timedelta(hours=-5)), ZoneInfo("Europe/Zurich"), ZoneInfo("Asia/Kolkata")])
def test_a_time_in_another_zone_comes_back_as_the_same_instant_in_utc(engine: sa.Engine, zone: tzinfo) -> None:
    at = datetime(2026, 3, 29, 3, 30, tzinfo=zone)
    stored = _round_trip(engine, at)
    assert stored is not None
    assert stored == at
    assert stored.tzinfo == UTC
    assert stored.replace(tzinfo=None) == at.astimezone(UTC).replace(tzinfo=None)


def test_a_naive_time_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        _round_trip(engine, datetime(2026, 3, 29, 1, 30))
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(stamps)).scalar_one() == 0


def test_null_stays_null(engine: sa.Engine) -> None:
    assert _round_trip(engine, None) is None


def test_a_time_a_database_answers_in_its_session_zone_is_read_as_utc() -> None:
    """PostgreSQL answers timestamptz in the session's zone; the value read is the same instant in UTC."""
    answered = datetime(2026, 3, 29, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    read = UtcDateTime().process_result_value(answered, POSTGRESQL)
    assert read is not None
    assert read == answered
    assert (read.tzinfo, read.hour) == (UTC, 1)


def test_the_column_ddl_is_a_timezone_aware_timestamp() -> None:
    """Tables may switch to UtcDateTime with no migration: the DDL is that of DateTime(timezone=True)."""
    for dialect in (SQLITE, POSTGRESQL):
        assert UtcDateTime().compile(dialect=dialect) == sa.DateTime(timezone=True).compile(dialect=dialect)


def test_times_written_in_different_zones_sort_by_instant(engine: sa.Engine) -> None:
    """SQLite compares the stored text: every time must be stored as UTC for ORDER BY to mean time order."""
    later_wall_clock_earlier_instant = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as connection:
        connection.execute(stamps.insert().values(id=1, at=datetime(2026, 3, 29, 2, 0, tzinfo=UTC)))
        connection.execute(stamps.insert().values(id=2, at=later_wall_clock_earlier_instant))
        ordered = connection.execute(sa.select(stamps.c.id).order_by(stamps.c.at)).scalars().all()
    assert ordered == [2, 1]
