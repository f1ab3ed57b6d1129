"""What one transaction has read, kept for the rest of it: a repository may remember what it read or wrote
in a session's transaction (a consumer's batch applies many events in one) and use it again instead of
reading it again.

A memo lives in the session (`session.info`) and is emptied, in place, whenever any of the session's
transactions is rolled back, a savepoint included (what it remembers may have been undone with it, and a
row lock taken inside the savepoint is released with it), and when the outermost transaction ends (another
transaction may change the rows from then on). Only what the transaction itself holds still is ever
remembered: the caller keeps a memo only of rows its transaction has written or locked, or where no other
writer can come in between (SQLite's single writer).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

_KEY = "teei_memos"


def memo(session: orm.Session, name: str) -> dict[Any, Any]:
    """The session's memo called `name` (one per kind of thing remembered): empty at the start of each
    transaction and after each rollback."""
    memos: dict[str, dict[Any, Any]] = session.info.setdefault(_KEY, {})
    return memos.setdefault(name, {})


def _forget(session: orm.Session) -> None:
    for remembered in session.info.get(_KEY, {}).values():
        remembered.clear()


def _after_soft_rollback(session: orm.Session, previous: orm.SessionTransaction) -> None:
    _forget(session)


def _after_transaction_end(session: orm.Session, transaction: orm.SessionTransaction) -> None:
    if transaction.parent is None:
        _forget(session)


sa.event.listen(orm.Session, "after_soft_rollback", _after_soft_rollback)
sa.event.listen(orm.Session, "after_transaction_end", _after_transaction_end)
