"""The audit chain on SQLite: it verifies as written; any single record edited, deleted or moved, a rewritten
prefix or a dropped tail fails verification naming the record; the table refuses UPDATE and DELETE."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.audit.records import GENESIS, AuditRecord
from services.kit.audit.tables import checkpoints, records
from services.kit.persistence import db
from tests.unit.kit.audit.support import fill, first_problem, migrated, tamper, verified


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = migrated(db.sqlite_url(tmp_path / "audit.db"))
    yield engine
    engine.dispose()


def test_records_chain_by_hash_and_verify(engine: sa.Engine) -> None:
    written = fill(engine, 12, every=5)
    assert [r.sequence for r in written] == list(range(1, 13))
    assert written[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(written))
    report = verified(engine)
    assert (report.ok, report.records, report.checkpoints, report.head) == (True, 12, 2, written[-1].hash)


def test_a_checkpoint_is_signed_every_n_records_after_the_commit(engine: sa.Engine) -> None:
    fill(engine, 11, every=5)
    with engine.connect() as connection:
        signed = connection.execute(sa.select(checkpoints.c.sequence, checkpoints.c.algorithm)).all()
    assert [tuple(row) for row in signed] == [(5, "HS256"), (10, "HS256")]


def test_personal_data_never_reaches_the_stored_diff(engine: sa.Engine) -> None:
    fill(engine, 1)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(records.c.diff)).scalar_one()
    assert json.loads(stored) == {
        "before": {"count": 0, "email": "[redacted]"},
        "after": {"count": 1, "note": "written to [redacted:email]"},
    }
    files = Path(str(engine.url.database)).parent.glob("audit.db*")  # the database and its write-ahead log
    assert b"person1@example.org" not in b"".join(path.read_bytes() for path in files)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET outcome = 'denied' WHERE sequence = 4",
        "UPDATE audit_records SET actor = 'someone-else' WHERE sequence = 4",
        'UPDATE audit_records SET diff = \'{"before":null,"after":null}\' WHERE sequence = 4',
        "UPDATE audit_records SET recorded_at = '2020-01-01 00:00:00.000000' WHERE sequence = 4",
        "UPDATE audit_records SET diff = 'not json' WHERE sequence = 4",
    ],
)
def test_an_edited_record_is_named(engine: sa.Engine, statement: str) -> None:
    fill(engine, 8)
    tamper(engine, statement)
    problem = first_problem(engine)
    assert problem.sequence == 4
    assert "record 4 was edited" in problem.reason


def test_a_deleted_record_is_named(engine: sa.Engine) -> None:
    fill(engine, 8)
    tamper(engine, "DELETE FROM audit_records WHERE sequence = 5")
    problem = first_problem(engine)
    assert (problem.sequence, problem.reason) == (
        5,
        "record 5 is missing (the next record present is 6)",
    )


def test_swapped_records_are_named(engine: sa.Engine) -> None:
    fill(engine, 8)
    tamper(
        engine,
        "UPDATE audit_records SET sequence = -3 WHERE sequence = 3",
        "UPDATE audit_records SET sequence = 3 WHERE sequence = 6",
        "UPDATE audit_records SET sequence = 6 WHERE sequence = -3",
    )
    problem = first_problem(engine)
    assert problem.sequence == 3


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(engine: sa.Engine) -> None:
    fill(engine, 8)
    forged = _forged(engine, 4, actor="someone-else")
    tamper(engine, f"UPDATE audit_records SET actor = 'someone-else', hash = '{forged}' WHERE sequence = 4")
    problem = first_problem(engine)
    assert problem.sequence == 5
    assert "does not chain to record 4" in problem.reason


def test_a_rewritten_chain_contradicts_its_checkpoint(engine: sa.Engine) -> None:
    """Every hash from record 2 on recomputed: the chain holds, the signed checkpoint at 5 does not."""
    fill(engine, 6, every=5)
    previous = _row(engine, 1).hash
    statements = []
    for sequence in range(2, 7):
        row = _row(engine, sequence)
        forged = AuditRecord(**{**vars(row), "outcome": "denied", "prev_hash": previous, "hash": ""})
        previous = forged.computed_hash()
        statements.append(
            f"UPDATE audit_records SET outcome = 'denied', prev_hash = '{forged.prev_hash}', hash = '{previous}' "
            f"WHERE sequence = {sequence}"
        )
    tamper(engine, *statements)
    problem = first_problem(engine)
    assert problem.sequence == 5
    assert "differs from its signed checkpoint" in problem.reason


def test_a_dropped_tail_contradicts_its_checkpoint(engine: sa.Engine) -> None:
    fill(engine, 10, every=10)
    tamper(engine, "DELETE FROM audit_records WHERE sequence >= 9")
    problem = first_problem(engine)
    assert problem.sequence == 10
    assert "truncated" in problem.reason


def test_a_forged_checkpoint_signature_is_named(engine: sa.Engine) -> None:
    fill(engine, 5, every=5)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_checkpoints_no_update")
        connection.exec_driver_sql("UPDATE audit_checkpoints SET signature = 'ab' || substr(signature, 3)")
    problem = first_problem(engine)
    assert (problem.sequence, problem.reason) == (
        5,
        "checkpoint at record 5 has an invalid signature",
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET outcome = 'denied'",
        "DELETE FROM audit_records WHERE sequence = 1",
        "DELETE FROM audit_records",
        "UPDATE audit_checkpoints SET signature = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_the_database_refuses_update_and_delete(engine: sa.Engine, statement: str) -> None:
    fill(engine, 3, every=3)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert verified(engine).ok


def _row(engine: sa.Engine, sequence: int) -> AuditRecord:
    with engine.connect() as connection:
        row = connection.execute(sa.select(records).where(records.c.sequence == sequence)).mappings().one()
    return AuditRecord(**row)


def _forged(engine: sa.Engine, sequence: int, **changes: str) -> str:
    row = _row(engine, sequence)
    return AuditRecord(**{**vars(row), **changes, "hash": ""}).computed_hash()
