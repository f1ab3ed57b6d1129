"""The background retrier of texts awaiting screening: asks Safety again, with back-off, a bounded batch per run.

Each run takes at most `batch` texts awaiting screening (least recently tried first, every company),
screens each with its submitter's token (services.q2q.screening.credentials) and settles it exactly as an
on-demand answer would (stored, held for review, or dropped; the unscreened text overwritten). The
first text Safety cannot answer ends the run and doubles the pause (equal jitter, up to the longest
interval, never below the first); a run in which Safety answered resets it. A text with no usable token is only marked
tried, so it does not hold up the others. Stopping waits for the text in progress, then ends the task.

Of the service's worker processes only the holder of the `screening-retrier` lease (services.kit.persistence.
leases, in Q2Q's database) runs: two workers would otherwise ask Safety about the same held text, and Safety
records a flag and may queue a review per screening. A worker that holds no lease waits for it; one that loses
it stops after the text in progress; stopping releases it, so another worker takes over at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from services.kit import backoff
from services.kit.background import BackgroundTask
from services.kit.logs import get_logger
from services.kit.persistence import leases
from services.kit.security import servicetokens
from services.q2q import handlers
from services.q2q.domain.commands import SourceText
from services.q2q.domain.errors import ScreeningRefused, SourceAlreadyClassified
from services.q2q.domain.model import PendingText
from services.q2q.screening.safety import Screener, ScreeningRequest, ScreeningUnavailable

log = get_logger(__name__)
AwaitingTexts = Callable[[int], list[PendingText]]
STOP_GRACE_SECONDS = 5.0
LEASE = "screening-retrier"


@dataclass(frozen=True)
class RunReport:
    """What one run did: texts settled, texts without a usable token, and whether Safety failed to answer."""

    settled: int = 0
    without_token: int = 0
    unanswered: bool = False


class ScreeningRetrier(BackgroundTask):
    """Runs `run_once` now and then until stopped; started by the first Classify the service serves."""

    def __init__(
        self, parts: handlers.ScreeningParts, screener: Screener, awaiting: AwaitingTexts, *, interval: float,
        max_interval: float, batch: int, lease: leases.LeaseKeeper | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name="q2q-screening-retrier", grace_seconds=STOP_GRACE_SECONDS)
        self.parts, self.screener, self.awaiting = parts, screener, awaiting
        self.interval, self.max_interval, self.batch = interval, max_interval, batch
        # Only the lease's holder runs (None: this process always does, e.g. a database without leases).
        self.lease = lease
        self.runs = self.failures = 0

    def ensure_started(self) -> None:
        """Starts the task and its lease keeper once (stopping after the text in progress, cancelled after
        STOP_GRACE_SECONDS)."""
        if self.lease is not None and not self.stopping:
            self.lease.start()
        self.start()

    async def stop(self) -> None:
        """Stops after the text in progress, then releases the lease: another worker takes over now."""
        await super().stop()
        if self.lease is not None:
            await self.lease.stop()

    @property
    def holds_lease(self) -> bool:
        """Whether this process may run now: it holds the lease, or runs without one."""
        return self.lease is None or self.lease.held

    async def run_once(self) -> RunReport:
        """Screens up to `batch` texts awaiting screening; stops at the first Safety cannot answer."""
        texts = await asyncio.to_thread(self.awaiting, self.batch)
        settled = without_token = 0
        for held in texts:
            if self.stopping or not self.holds_lease:
                break
            key = (held.company_id, held.source)
            bearer = None if self.screener.acts_for_tenants else self.parts.tokens.bearer_for(key)
            if bearer is None and not self.screener.acts_for_tenants:
                without_token += 1
                await asyncio.to_thread(self._mark_tried, held)
                continue
            try:
                verdict = await self._screen(held, bearer)
            except ScreeningUnavailable:
                return RunReport(settled, without_token, unanswered=True)
            except ScreeningRefused as exc:
                log.warning("q2q.screening_refused", source_id=held.source.source_id, **exc.metadata)
                await asyncio.to_thread(self._mark_tried, held)
                continue
            await asyncio.to_thread(self._settle, verdict, held)
            self.parts.tokens.forget(key)
            settled += 1
        return RunReport(settled, without_token)

    async def _screen(self, held: PendingText, bearer: str | None) -> SourceText:
        """With mTLS Q2Q acts for the text's tenant on its own (the trust policy grants it ScreenText);
        without it, only with the submitter's token."""
        if bearer is not None:
            return await self.screener.screen(_request(held), bearer=bearer)
        with servicetokens.acting_for(held.company_id):
            return await self.screener.screen(_request(held), bearer=None)

    async def _loop(self) -> None:
        while not self.stopping:
            if self.lease is not None and not self.lease.held:
                await self._wait_for_lease(self.lease)
                continue
            if await self.pause(pause_after(self.failures, interval=self.interval, max_interval=self.max_interval)):
                return
            if not self.holds_lease:
                continue  # lost while pausing: the new holder runs
            report = await self._run_logged()
            self.runs += 1
            self.failures = self.failures + 1 if report.unanswered else 0

    async def _wait_for_lease(self, lease: leases.LeaseKeeper) -> None:
        """Waits until the lease is taken or lost, or the task stops (its keeper tries every TTL / 3)."""
        seconds = lease.lease.ttl.total_seconds()
        waits = [asyncio.ensure_future(self.pause(seconds)), asyncio.ensure_future(lease.wait_changed(seconds))]
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in pending:
            waiting.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run_logged(self) -> RunReport:
        try:
            report = await self.run_once()
        except Exception:  # a failing database must not end the retrier: the next run tries again
            log.exception("q2q.screening_retry_failed")
            return RunReport(unanswered=True)
        if report.settled or report.unanswered:
            log.info("q2q.screening_retried", settled=report.settled, unanswered=report.unanswered)
        return report

    def _settle(self, verdict: SourceText, held: PendingText) -> None:
        try:
            handlers.settle(verdict, self.parts)
        except SourceAlreadyClassified:
            # The source was scored from another text meanwhile: its first scores stay; this text is dropped.
            log.warning("q2q.source_text_changed", source_id=held.source.source_id)
            handlers.settle(_dropped(verdict), self.parts)

    def _mark_tried(self, held: PendingText) -> None:
        handlers.mark_tried(held, uow=self.parts.uow)


def lease_keeper(engine: sa.Engine) -> leases.LeaseKeeper | None:
    """The keeper of this process's claim on the retrier's lease in `engine`; None when the database has no
    leases table (then every process retries, as before leases)."""
    if not leases.available(engine):
        log.warning("lease.unavailable", lease=LEASE, reason="no leases table; this process retries unconditionally")
        return None
    return leases.LeaseKeeper(leases.Lease(engine, LEASE, holder=leases.holder_id()))


def pause_after(failures: int, *, interval: float, max_interval: float) -> float:
    """Seconds before the next run after `failures` runs in a row Safety did not answer: `interval` after
    none, else doubling per failure up to `max_interval`, with equal jitter, never below `interval`."""
    if failures == 0:
        return interval
    return max(interval, backoff.delay(failures + 1, base=interval, cap=max_interval, floor=0.5))


def _request(held: PendingText) -> ScreeningRequest:
    return ScreeningRequest(held.company_id, held.source, held.profile_id, held.text)


def _dropped(verdict: SourceText) -> SourceText:
    return SourceText(
        verdict.company_id, verdict.source, verdict.profile_id, "", screened_safe=False, screened_unsafe=True,
        review_id=verdict.review_id,
    )  # fmt: skip
