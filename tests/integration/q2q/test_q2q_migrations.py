"""Q2Q migrations upgrade, downgrade and upgrade again on SQLite and PostgreSQL, with the service's sealed rows unsealed
before going below the sealing revision (its downgrade refuses sealed values)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.persistence import db
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.q2q import bootstrap, handlers, queries, sealing
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import ListScores, SourceText
from services.q2q.domain.model import SourceRef
from services.q2q.repository import SqlQ2qRepository, SqlQ2qUnitOfWork

TABLES = {"q2q_classifications", "q2q_scores", "q2q_evidence", "q2q_score_evidence", "q2q_pending_texts", "outbox"}
PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _works(url: str, var_dir: Path) -> None:
    """A text scored with its evidence sealed, read back, then every sealed row unsealed."""
    engine, cipher = db.create_engine(url), pii.local(var_dir, "q2q")
    pii.attach(engine, cipher)
    try:
        uow = db.UnitOfWork(engine)
        source = SourceRef(TextSourceType.KINTELL_SESSION_FEEDBACK, "s-1")
        text = SourceText("acme", source, PROFILE, "I feel so lonely here.", True, False, "")
        with uow.begin() as session:
            handlers.receive_source_text(
                text, repo=SqlQ2qRepository(session, company_id="acme"), classifier=RuleBasedClassifier()
            )
        scores = queries.list_scores(ListScores("acme"), uow=SqlQ2qUnitOfWork(uow)).scores
        assert {e.text for s in scores for e in s.evidence} == {"lonely"}
        with uow.begin() as session:  # the rollback of sealing, before going below it
            while sealing.unseal_batch(session, cipher):
                pass
    finally:
        engine.dispose()
        cipher.close()


def _round_trip(url: str, var_dir: Path) -> None:
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert TABLES | {"inbox", "alembic_version_q2q"} <= _tables(url)
    _works(url, var_dir)
    db.downgrade(url, bootstrap.MIGRATIONS)
    assert not TABLES & _tables(url)
    db.upgrade(url, bootstrap.MIGRATIONS)
    assert _tables(url) >= TABLES


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(db.sqlite_url(tmp_path / "q2q.db"), tmp_path)


def test_postgresql_upgrade_downgrade_upgrade(postgres_url: str, tmp_path: Path) -> None:
    _round_trip(postgres_url, tmp_path)
