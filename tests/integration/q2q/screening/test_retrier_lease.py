"""Two screening retriers of one q2q database (two worker processes): only the holder of the retrier's lease
asks Safety about held texts; when it stops, the other takes the lease over and asks from then on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.persistence import db, leases
from services.kit.text_sources import TextSourceType
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import SourceText
from services.q2q.domain.model import PendingState, PendingText, SourceRef
from services.q2q.handlers import ScreeningParts
from services.q2q.screening import retrier as screening
from services.q2q.screening.credentials import SubmitterTokens
from services.q2q.screening.safety import ScreeningRequest, ScreeningUnavailable
from tests.unit.q2q.screening.test_retrier import NoDatabase

TTL_SECONDS = 6.0  # long beside a renewal on a loaded machine; a stopped holder releases it at once
HELD = PendingText(
    "acme", SourceRef(TextSourceType.BUDDY_FEEDBACK, "f-1"), "", "text", "", PendingState.AWAITING_SCREENING,
    datetime.now(UTC),
)  # fmt: skip


class CountingSafety:
    """A Safety that cannot answer yet, counting the screenings it was asked for (each would be a flag)."""

    acts_for_tenants = True

    def __init__(self) -> None:
        self.calls = 0

    async def screen(
        self, request: ScreeningRequest, *, bearer: str | None, seconds: float | None = None
    ) -> SourceText:
        self.calls += 1
        raise ScreeningUnavailable("safety answered UNAVAILABLE")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    engine = db.create_engine(url or db.sqlite_url(tmp_path / "q2q.db"))
    leases.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _worker(engine: sa.Engine, name: str, safety: CountingSafety) -> screening.ScreeningRetrier:
    keeper = leases.LeaseKeeper(leases.Lease(engine, screening.LEASE, holder=name, ttl_seconds=TTL_SECONDS))
    parts = ScreeningParts(NoDatabase(), RuleBasedClassifier(), safety, SubmitterTokens())
    return screening.ScreeningRetrier(
        parts, safety, lambda limit: [HELD][:limit], interval=0.01, max_interval=0.02, batch=5, lease=keeper
    )


def _holder(engine: sa.Engine) -> str | None:
    return leases.Lease(engine, screening.LEASE, holder="observer").holder_now()


async def _until(condition: Callable[[], bool], what: str, *, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


async def test_only_the_lease_holder_asks_safety_and_the_other_takes_over_when_it_stops(engine: sa.Engine) -> None:
    first_safety, second_safety = CountingSafety(), CountingSafety()
    first = _worker(engine, "first", first_safety)
    first.ensure_started()
    second = None
    try:
        await _until(lambda: first_safety.calls >= 1, "the first retrier never took the lease and ran")
        second = _worker(engine, "second", second_safety)
        second.ensure_started()
        await _until(lambda: first_safety.calls >= 20, "the holder stopped retrying")
        assert second_safety.calls == 0
        assert (first.holds_lease, second.holds_lease) == (True, False)
        assert await asyncio.to_thread(_holder, engine) == "first"
        await first.stop()
        stopped_at = first_safety.calls
        await _until(lambda: second_safety.calls >= 5, "the other retrier never took over")
        assert first_safety.calls == stopped_at
        assert await asyncio.to_thread(_holder, engine) == "second"
    finally:
        await first.stop()
        if second is not None:
            await second.stop()


def test_a_database_without_the_leases_table_runs_the_retrier_unconditionally(tmp_path: Path) -> None:
    bare = db.create_engine(db.sqlite_url(tmp_path / "bare.db"))
    try:
        assert screening.lease_keeper(bare) is None
        leases.metadata.create_all(bare)
        keeper = screening.lease_keeper(bare)
        assert keeper is not None
        assert keeper.lease.name == "screening-retrier"
    finally:
        bare.dispose()
