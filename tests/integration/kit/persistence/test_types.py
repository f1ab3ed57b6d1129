"""UtcDateTime on PostgreSQL: a session in another time zone still reads every stored time as aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.persistence.types import UtcDateTime

metadata = sa.MetaData()
stamps = sa.Table("stamps", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UtcDateTime))


def test_a_session_in_another_zone_reads_the_same_instant_in_utc(postgres_url: str) -> None:
    engine = sa.create_engine(db.normalise_url(postgres_url), connect_args={"options": "-c timezone=Asia/Tokyo"})
    written = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Zurich"))
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(stamps.insert().values(id=1, at=written))
            raw = connection.execute(sa.text("SELECT at FROM stamps")).scalar_one()
            read = connection.execute(sa.select(stamps.c.at)).scalar_one()
    finally:
        engine.dispose()
    assert raw.utcoffset() == ZoneInfo("Asia/Tokyo").utcoffset(raw)  # what the session zone hands back
    assert read == written
    assert read.tzinfo == UTC
