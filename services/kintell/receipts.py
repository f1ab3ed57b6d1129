"""Group commit of webhook receipts: receipts that arrive while a commit is under way are written together
in the next transaction, each in a savepoint of its own, and every sender is answered only after that
commit. SQLite has one writer and syncs its log on every commit; one commit for many receipts is what
lets concurrent senders through (each receipt its own transaction queued them on the write lock)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import orm

from services.kintell.repository import KintellUnitOfWork, SqlKintellRepository, SqlKintellUnitOfWork
from services.kit.logs import get_logger
from services.kit.persistence.db import UnitOfWork

log = get_logger(__name__)

T = TypeVar("T")
# Receipts per transaction: enough to absorb a burst of concurrent senders, small enough that a sender
# at the back of a batch does not wait on hundreds of others.
GROUP_LIMIT = 64

Work = Callable[[KintellUnitOfWork], T]


@dataclass
class _Receipt(Generic[T]):
    work: Work[T]
    context: contextvars.Context
    answer: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Savepoint:
    """The unit of work one receipt sees inside a group: its block is a savepoint of the shared transaction,
    rolled back alone when the handler fails, and written only when the whole group commits."""

    def __init__(self, session: orm.Session) -> None:
        self._session = session

    @contextmanager
    def begin(self, *, company_id: str) -> Iterator[SqlKintellRepository]:
        with self._session.begin_nested():
            yield SqlKintellRepository(self._session, company_id=company_id)

    @contextmanager
    def read(self, *, company_id: str) -> Iterator[SqlKintellRepository]:
        with self._session.begin_nested():
            yield SqlKintellRepository(self._session, company_id=company_id)


class GroupCommit:
    """Runs handlers that write one receipt each, many to a transaction; `run` answers after the commit.

    A handler that raises is rolled back to its savepoint and its sender gets the error; the others commit.
    When the group's commit itself fails, nothing of it was written and each receipt is run again alone in
    a transaction of its own, so one bad receipt costs no other sender its answer."""

    def __init__(self, uow: UnitOfWork, *, limit: int = GROUP_LIMIT) -> None:
        self._uow = uow
        self._alone = SqlKintellUnitOfWork(uow)
        self._limit = limit
        self._queue: list[_Receipt[object]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, work: Work[T]) -> T:
        """Runs `work` in the next group (in the caller's context: tenant, trace) and returns its result
        once the group has committed; raises what `work` raised."""
        receipt: _Receipt[T] = _Receipt(work, contextvars.copy_context())
        self._queue.append(receipt)  # type: ignore[arg-type]  # answered with what its own work returns
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="kintell-group-commit")
            self._writer.add_done_callback(_report_if_failed)
        # A sender that goes away does not take its receipt out of the group (as with a thread before).
        return await receipt.answer

    async def _write_queued(self) -> None:
        while self._queue:
            group, self._queue = self._queue[: self._limit], self._queue[self._limit :]
            try:
                outcomes = await asyncio.to_thread(self._write, group)
            except BaseException as exc:  # the thread itself failed: no sender may wait forever
                outcomes = [exc] * len(group)
                if not isinstance(exc, Exception):
                    _answer(group, outcomes)
                    raise
            _answer(group, outcomes)

    def _write(self, group: list[_Receipt[object]]) -> list[object]:
        try:
            with self._uow.begin() as session:
                batch = _Savepoint(session)
                outcomes = [_attempt(receipt, batch) for receipt in group]
        except Exception:
            log.warning("kintell.group_commit_failed", receipts=len(group), exc_info=True)
            return [_attempt(receipt, self._alone) for receipt in group]
        return outcomes


def _attempt(receipt: _Receipt[object], uow: KintellUnitOfWork) -> object:
    try:
        return receipt.context.copy().run(receipt.work, uow)
    except Exception as exc:
        return exc


def _answer(group: list[_Receipt[object]], outcomes: list[object]) -> None:
    for receipt, outcome in zip(group, outcomes, strict=True):
        if receipt.answer.done():
            continue
        if isinstance(outcome, BaseException):
            receipt.answer.set_exception(outcome)
        else:
            receipt.answer.set_result(outcome)


def _report_if_failed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kintell.group_commit_stopped", exc_info=task.exception())
