"""PostgreSQL engines come with a bounded, pre-pinged pool and a server-side statement timeout."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.persistence import db


def test_a_postgresql_engine_pings_its_pool_and_times_out_statements(postgres_url: str) -> None:
    engine = db.create_engine(postgres_url)
    try:
        assert engine.pool._pre_ping
        assert isinstance(engine.pool, sa.pool.QueuePool)
        assert engine.pool.size() == db.POOL_SIZE
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar_one() == "15s"
    finally:
        engine.dispose()
