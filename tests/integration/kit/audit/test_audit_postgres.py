"""The audit log on a real PostgreSQL: the triggers refuse UPDATE, DELETE and TRUNCATE; concurrent appends
from several connections still form one chain (the advisory lock); tampering is named by verification."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from services.kit.audit.trail import AuditLog
from services.kit.persistence import db
from tests.unit.kit.audit.support import entry, fill, first_problem, migrated, tamper, verified


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = migrated(postgres_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET outcome = 'denied'",
        "DELETE FROM audit_records WHERE sequence = 1",
        "TRUNCATE audit_records",
        "UPDATE audit_checkpoints SET signature = 'x'",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ],
)
def test_postgresql_refuses_changes_to_the_log(engine: sa.Engine, statement: str) -> None:
    fill(engine, 3, every=3)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql(statement)
    report = verified(engine)
    assert (report.ok, report.records, report.checkpoints) == (True, 3, 1)


def test_concurrent_appends_form_one_chain(engine: sa.Engine) -> None:
    log = AuditLog(db.UnitOfWork(engine))
    with ThreadPoolExecutor(max_workers=4) as pool:
        written = list(pool.map(lambda n: log.record(entry(n)), range(1, 41)))
    assert sorted(r.sequence for r in written) == list(range(1, 41))
    report = verified(engine)
    assert (report.ok, report.records) == (True, 40)


def test_a_deleted_record_is_named_on_postgresql(engine: sa.Engine) -> None:
    fill(engine, 6)
    tamper(engine, "DELETE FROM audit_records WHERE sequence = 2")
    assert first_problem(engine).sequence == 2


def test_an_edited_record_is_named_on_postgresql(engine: sa.Engine) -> None:
    fill(engine, 6)
    tamper(engine, "UPDATE audit_records SET tenant = 'globex' WHERE sequence = 3")
    problem = first_problem(engine)
    assert (problem.sequence, problem.reason) == (3, "record 3 was edited or moved (its hash does not match)")
