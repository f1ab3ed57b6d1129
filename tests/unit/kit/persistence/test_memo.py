"""A transaction's memo: kept across its savepoints that commit, emptied in place by any rollback (a
savepoint's included) and when the transaction ends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.persistence.memo import memo


@pytest.fixture
def session() -> orm.Session:
    return orm.Session(sa.create_engine("sqlite://"))


def test_a_memo_lasts_across_committed_savepoints_and_ends_with_the_transaction(session: orm.Session) -> None:
    with session.begin():
        remembered = memo(session, "people")
        with session.begin_nested():
            remembered["a"] = 1
        with session.begin_nested():
            assert memo(session, "people") == {"a": 1}
            remembered["b"] = 2
        assert memo(session, "people") is remembered
        assert memo(session, "other") == {}
    assert remembered == {}
    with session.begin():
        assert memo(session, "people") == {}


def test_a_rolled_back_savepoint_empties_every_memo_in_place(session: orm.Session) -> None:
    with session.begin():
        people, rows = memo(session, "people"), memo(session, "rows")
        people["a"], rows["a"] = 1, [1]
        savepoint = session.begin_nested()
        people["b"] = 2
        savepoint.rollback()
        assert people == {}
        assert rows == {}
        people["c"] = 3
    assert people == {}


def test_a_rolled_back_transaction_empties_it(session: orm.Session) -> None:
    transaction = session.begin()
    remembered = memo(session, "people")
    remembered["a"] = 1
    transaction.rollback()
    assert remembered == {}


def test_each_session_has_its_own(session: orm.Session) -> None:
    other = orm.Session(sa.create_engine("sqlite://"))
    with session.begin(), other.begin():
        memo(session, "people")["a"] = 1
        assert memo(other, "people") == {}
