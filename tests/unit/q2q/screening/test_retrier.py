"""The retrier backs off while Safety cannot answer: doubling pauses with equal jitter, reset by an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import pytest

from services.kit.text_sources import TextSourceType
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import SourceText
from services.q2q.domain.model import PendingState, PendingText, SourceRef
from services.q2q.handlers import ScreeningParts
from services.q2q.repository import Q2qRepository
from services.q2q.screening.credentials import SubmitterTokens
from services.q2q.screening.retrier import ScreeningRetrier, pause_after
from services.q2q.screening.safety import ScreeningRequest, ScreeningUnavailable

SAMPLES = 500


def test_a_run_safety_answered_or_had_nothing_to_do_is_followed_by_the_first_interval() -> None:
    assert pause_after(0, interval=5.0, max_interval=300.0) == 5.0


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 10.0), (2, 20.0), (3, 40.0), (6, 300.0), (30, 300.0)])
def test_each_failure_doubles_the_pause_up_to_the_longest_with_equal_jitter(failures: int, ceiling: float) -> None:
    pauses = [pause_after(failures, interval=5.0, max_interval=300.0) for _ in range(SAMPLES)]
    assert all(ceiling / 2 <= pause <= ceiling for pause in pauses)
    assert max(pauses) - min(pauses) > ceiling / 10  # jittered, not fixed


def test_the_pause_is_never_below_the_first_interval() -> None:
    pauses = [pause_after(1, interval=5.0, max_interval=6.0) for _ in range(SAMPLES)]
    assert all(5.0 <= pause <= 6.0 for pause in pauses)


class DownSafety:
    """A Safety that cannot answer while `down`."""

    acts_for_tenants = True

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    async def screen(
        self, request: ScreeningRequest, *, bearer: str | None, seconds: float | None = None
    ) -> SourceText:
        self.calls += 1
        raise ScreeningUnavailable("safety answered UNAVAILABLE")


class NoDatabase:
    """A unit of work the test must never reach: a run Safety does not answer stores nothing."""

    def begin(self, *, company_id: str) -> AbstractContextManager[Q2qRepository]:
        raise AssertionError("nothing is stored while Safety cannot answer")

    def read(self, *, company_id: str) -> AbstractContextManager[Q2qRepository]:
        raise AssertionError("nothing is read while Safety cannot answer")


async def test_failures_count_up_while_safety_is_down_and_reset_once_nothing_is_unanswered() -> None:
    held = PendingText(
        "acme", SourceRef(TextSourceType.BUDDY_FEEDBACK, "f-1"), "", "text", "", PendingState.AWAITING_SCREENING,
        datetime.now(UTC),
    )  # fmt: skip
    safety, waiting = DownSafety(), [held]
    parts = ScreeningParts(NoDatabase(), RuleBasedClassifier(), safety, SubmitterTokens())
    retrier = ScreeningRetrier(parts, safety, lambda limit: waiting[:limit], interval=0.01, max_interval=0.02, batch=5)
    retrier.ensure_started()
    try:
        await _until(lambda: retrier.failures >= 2)
        waiting.clear()  # settled elsewhere (an event): the next run has nothing Safety must answer
        await _until(lambda: retrier.failures == 0)
    finally:
        await retrier.stop()
    assert safety.calls >= 2


async def _until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.005)
