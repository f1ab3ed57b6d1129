"""The background retrier of texts awaiting screening: asks Safety again, with back-off, a bounded batch per run.

Each run takes at most `batch` texts awaiting screening (least recently tried first, every company),
screens each with its submitter's token (services.q2q.credentials) and settles it exactly as an
on-demand answer would (stored, held for review, or dropped; the unscreened text overwritten). The
first text Safety cannot answer ends the run and doubles the pause (with jitter, up to the longest
interval); a run in which Safety answered resets it. A text with no usable token is only marked
tried, so it does not hold up the others. Stopping waits for the text in progress, then ends the task.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections.abc import Callable
from dataclasses import dataclass

from services.kit.logs import get_logger
from services.kit.security import servicetokens
from services.q2q import on_demand
from services.q2q.domain.commands import SourceText
from services.q2q.domain.model import PendingText, ScreeningRefused, SourceAlreadyClassified
from services.q2q.screening import Screener, ScreeningRequest, ScreeningUnavailable

log = get_logger(__name__)
AwaitingTexts = Callable[[int], list[PendingText]]
STOP_GRACE_SECONDS = 5.0
# Jitter spreads the retries of many replicas apart; it needs no unpredictability.
_jitter = random.Random()  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class RunReport:
    """What one run did: texts settled, texts without a usable token, and whether Safety failed to answer."""

    settled: int = 0
    without_token: int = 0
    unanswered: bool = False


class ScreeningRetrier:
    """Runs `run_once` now and then until stopped; started by the first Classify the service serves."""

    def __init__(
        self, parts: on_demand.Screening, screener: Screener, awaiting: AwaitingTexts, *, interval: float,
        max_interval: float, batch: int,
    ) -> None:  # fmt: skip
        self.parts, self.screener, self.awaiting = parts, screener, awaiting
        self.interval, self.max_interval, self.batch = interval, max_interval, batch
        self.runs = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        """Starts the task once, in a fresh context: it must not inherit the serving RPC's caller or deadline."""
        if self._task is None and not self._stopping.is_set():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._loop(), name="q2q-screening-retrier", context=contextvars.Context())

    async def stop(self) -> None:
        """Stops after the text in progress (cancelled if that takes longer than STOP_GRACE_SECONDS)."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run_once(self) -> RunReport:
        """Screens up to `batch` texts awaiting screening; stops at the first Safety cannot answer."""
        texts = await asyncio.to_thread(self.awaiting, self.batch)
        settled = without_token = 0
        for held in texts:
            if self._stopping.is_set():
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
        pause = self.interval
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), pause)
                return
            except TimeoutError:
                pass
            report = await self._run_logged()
            self.runs += 1
            pause = self._next_pause(pause, report)

    async def _run_logged(self) -> RunReport:
        try:
            report = await self.run_once()
        except Exception:  # a failing database must not end the retrier: the next run tries again
            log.exception("q2q.screening_retry_failed")
            return RunReport(unanswered=True)
        if report.settled or report.unanswered:
            log.info("q2q.screening_retried", settled=report.settled, unanswered=report.unanswered)
        return report

    def _next_pause(self, pause: float, report: RunReport) -> float:
        if not report.unanswered:
            return self.interval
        doubled = min(self.max_interval, pause * 2)
        return max(self.interval, doubled * (0.5 + _jitter.random() / 2))

    def _settle(self, verdict: SourceText, held: PendingText) -> None:
        try:
            on_demand.settle(verdict, self.parts)
        except SourceAlreadyClassified:
            # The source was scored from another text meanwhile: its first scores stay; this text is dropped.
            log.warning("q2q.source_text_changed", source_id=held.source.source_id)
            on_demand.settle(_dropped(verdict), self.parts)

    def _mark_tried(self, held: PendingText) -> None:
        with self.parts.uow.begin(company_id=held.company_id) as store:
            current = store.get_pending(held.source)
            if current is not None and current.state is held.state:
                store.put_pending(current)  # moves it behind the others (updated_at)


def _request(held: PendingText) -> ScreeningRequest:
    return ScreeningRequest(held.company_id, held.source, held.profile_id, held.text)


def _dropped(verdict: SourceText) -> SourceText:
    return SourceText(
        verdict.company_id, verdict.source, verdict.profile_id, "", screened_safe=False, screened_unsafe=True,
        review_id=verdict.review_id,
    )  # fmt: skip
