"""Webhook receipts committed in groups: concurrent senders share one transaction, each answered after its
commit; a failing receipt, a duplicate inside a group, a failed commit and a crash after the commit lose
nothing and apply nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kintell import handlers
from services.kintell.domain.commands import ReceiveWebhook
from services.kintell.domain.errors import DeliveryConflict, SessionNotFound
from services.kintell.repository import GroupCommit, KintellUnitOfWork
from services.kintell.tables import deliveries, sessions
from services.kit.connectors.deliveries import Ack
from services.kit.messaging import events
from services.kit.persistence import db
from tests.unit.kintell.samples import rating_body, session_body


class Crash(BaseException):
    """The process dying between a group's commit and its answers."""


def _completed(body: bytes) -> Any:
    def work(uow: KintellUnitOfWork) -> Ack:
        return handlers.receive_session_completed(ReceiveWebhook("acme", body), uow=uow)

    return work


def _rated(body: bytes) -> Any:
    def work(uow: KintellUnitOfWork) -> Ack:
        return handlers.receive_rating_created(ReceiveWebhook("acme", body), uow=uow)

    return work


def _session(i: int) -> bytes:
    return session_body(f"d-{i}", session_id=f"k-{i}")


async def _send(receipts: GroupCommit, *works: Any) -> list[Any]:
    return await asyncio.gather(*(receipts.run(work) for work in works), return_exceptions=True)


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _events(engine: sa.Engine) -> list[str]:
    with db.UnitOfWork(engine).begin() as session:
        return [envelope.subject for envelope in events.pending(session, limit=1000)]


@pytest.fixture
def commits(engine: sa.Engine) -> Iterator[list[int]]:
    """One entry per transaction committed on the engine."""
    seen: list[int] = []

    def count(_: sa.Connection) -> None:
        seen.append(1)

    sa.event.listen(engine, "commit", count)
    yield seen
    sa.event.remove(engine, "commit", count)


async def test_concurrent_receipts_commit_together_and_each_is_answered(engine: sa.Engine, commits: list[int]) -> None:
    receipts = GroupCommit(db.UnitOfWork(engine))
    acks = await _send(receipts, *(_completed(_session(i)) for i in range(20)))
    assert [(a.delivery_id, a.duplicate) for a in acks] == [(f"d-{i}", False) for i in range(20)]
    assert len(commits) == 1
    assert _count(engine, sessions) == 20
    assert len(_events(engine)) == 20


async def test_a_failing_receipt_is_rolled_back_alone_and_the_rest_of_its_group_commit(engine: sa.Engine) -> None:
    receipts = GroupCommit(db.UnitOfWork(engine))
    first, unknown, last = await _send(
        receipts, _completed(_session(1)), _rated(rating_body("r-1", session_id="k-99")), _completed(_session(2))
    )
    assert isinstance(unknown, SessionNotFound)
    answered = [(first.delivery_id, first.duplicate), (last.delivery_id, last.duplicate)]
    assert answered == [("d-1", False), ("d-2", False)]
    assert len(_events(engine)) == 2
    # The refused rating's delivery went with its savepoint: sent again once its session exists, it applies.
    await _send(receipts, _completed(session_body("d-3", session_id="k-99")))
    [again] = await _send(receipts, _rated(rating_body("r-1", session_id="k-99")))
    assert (again.delivery_id, again.duplicate) == ("r-1", False)


async def test_a_delivery_twice_in_one_group_is_stored_once(engine: sa.Engine, commits: list[int]) -> None:
    receipts = GroupCommit(db.UnitOfWork(engine))
    changed = session_body("d-1", session_id="k-1", rating=0.9)
    first, copy, conflicting = await _send(
        receipts, _completed(_session(1)), _completed(_session(1)), _completed(changed)
    )
    assert len(commits) == 1
    assert [(first.delivery_id, first.duplicate), (copy.delivery_id, copy.duplicate)] == [("d-1", False), ("d-1", True)]
    assert isinstance(conflicting, DeliveryConflict)
    assert (_count(engine, sessions), _count(engine, deliveries)) == (1, 1)
    assert _events(engine) == [_events(engine)[0]]


async def test_a_group_whose_commit_fails_is_written_receipt_by_receipt(engine: sa.Engine) -> None:
    refused: list[int] = []

    def refuse_once(session: orm.Session) -> None:
        if not refused and not session.in_nested_transaction():  # the group's commit, not a receipt's savepoint
            refused.append(1)
            raise RuntimeError("disk I/O error")

    receipts = GroupCommit(db.UnitOfWork(engine))
    # The people's data keys are made (and committed) by the first receipt naming them: before the failure.
    await _send(receipts, _completed(_session(100)))
    sa.event.listen(orm.Session, "before_commit", refuse_once)
    try:
        acks = await _send(receipts, *(_completed(_session(i)) for i in range(5)), _completed(_session(0)))
    finally:
        sa.event.remove(orm.Session, "before_commit", refuse_once)
    assert refused == [1]
    assert [(a.delivery_id, a.duplicate) for a in acks] == [(f"d-{i}", False) for i in range(5)] + [("d-0", True)]
    assert (_count(engine, sessions), len(_events(engine))) == (6, 6)


async def test_a_crash_between_commit_and_answer_leaves_retries_answered_as_duplicates(engine: sa.Engine) -> None:
    def crash(session: orm.Session) -> None:
        if not session.in_nested_transaction():  # once the group is written, not at a receipt's savepoint
            raise Crash

    receipts = GroupCommit(db.UnitOfWork(engine))
    sa.event.listen(orm.Session, "after_commit", crash)
    try:
        lost = await _send(receipts, *(_completed(_session(i)) for i in range(3)))
    finally:
        sa.event.remove(orm.Session, "after_commit", crash)
    assert all(isinstance(answer, Crash) for answer in lost)
    # The sender never got its acknowledgements and retries them against the restarted service.
    restarted = GroupCommit(db.UnitOfWork(engine))
    retried = await _send(restarted, *(_completed(_session(i)) for i in range(3)))
    assert [(a.delivery_id, a.duplicate) for a in retried] == [(f"d-{i}", True) for i in range(3)]
    assert (_count(engine, sessions), len(_events(engine))) == (3, 3)
