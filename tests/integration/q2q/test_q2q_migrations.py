"""Q2Q migrations upgrade, downgrade and upgrade again on SQLite."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db
from services.q2q import bootstrap

TABLES = {"q2q_classifications", "q2q_scores", "q2q_evidence", "q2q_score_evidence", "q2q_pending_texts", "outbox"}


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = db.sqlite_url(tmp_path / "q2q.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"inbox", "alembic_version_q2q"} <= _tables(url)
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not TABLES & _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES
