"""The rate limiter with the in-memory store: limits hold, overrides apply, windows reset, bad questions fail."""

from __future__ import annotations

import pytest

from services.ratelimit.domain.errors import MalformedRateLimitRequest
from services.ratelimit.domain.limits import Unit
from services.ratelimit.domain.query import MAX_DESCRIPTORS, MAX_VALUE_CHARS, Descriptor, RateLimitQuery
from services.ratelimit.handlers import RateLimiter
from services.ratelimit.repository import Hit, MemoryCounterStore
from tests.unit.ratelimit.support import FakeClock, one, small_limits


def limiter(clock: FakeClock, per_tenant: int = 3, unit: Unit = Unit.MINUTE) -> RateLimiter:
    return RateLimiter(small_limits(per_tenant, unit), MemoryCounterStore(), clock)


def ask(*descriptors: Descriptor, domain: str = "teei") -> RateLimitQuery:
    return RateLimitQuery(domain=domain, descriptors=descriptors)


async def test_the_limit_allows_exactly_n_hits_per_window_then_answers_over_limit() -> None:
    rl = limiter(FakeClock(), per_tenant=3)
    verdicts = [await rl.should_rate_limit(ask(one("tenant", "acme"))) for _ in range(5)]
    assert [v.over_limit for v in verdicts] == [False, False, False, True, True]
    assert [v.statuses[0].remaining for v in verdicts] == [2, 1, 0, 0, 0]
    assert [v.statuses[0].count for v in verdicts] == [1, 2, 3, 4, 5]


async def test_each_value_has_its_own_counter_and_overrides_raise_the_limit() -> None:
    rl = limiter(FakeClock(), per_tenant=1)
    assert not (await rl.should_rate_limit(ask(one("tenant", "acme")))).over_limit
    assert not (await rl.should_rate_limit(ask(one("tenant", "globex")))).over_limit
    assert (await rl.should_rate_limit(ask(one("tenant", "acme")))).over_limit
    bigcorp = [await rl.should_rate_limit(ask(one("tenant", "bigcorp"))) for _ in range(11)]
    assert [v.over_limit for v in bigcorp].index(True) == 10
    assert bigcorp[0].statuses[0].limit is not None
    assert bigcorp[0].statuses[0].limit.name == "tenant override"


async def test_hits_addend_counts_that_many_hits() -> None:
    rl = limiter(FakeClock(), per_tenant=10)
    first = await rl.should_rate_limit(ask(one("tenant", "acme", hits=7)))
    assert (first.over_limit, first.statuses[0].remaining) == (False, 3)
    second = await rl.should_rate_limit(ask(one("tenant", "acme", hits=4)))
    assert (second.over_limit, second.statuses[0].count) == (True, 11)


async def test_a_window_resets_when_the_clock_reaches_its_end() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_tenant=2)
    for _ in range(3):
        verdict = await rl.should_rate_limit(ask(one("tenant", "acme")))
    assert verdict.over_limit
    assert verdict.statuses[0].until_reset == 60.0
    clock.advance(59.5)
    still = await rl.should_rate_limit(ask(one("tenant", "acme")))
    assert still.over_limit
    assert still.statuses[0].until_reset == pytest.approx(0.5)
    clock.advance(0.5)
    fresh = await rl.should_rate_limit(ask(one("tenant", "acme")))
    assert (fresh.over_limit, fresh.statuses[0].remaining) == (False, 1)


async def test_any_descriptor_over_its_limit_makes_the_request_over_limit_and_all_are_counted() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_tenant=100)
    address = one("remote_address", "203.0.113.9")
    for _ in range(5):
        await rl.should_rate_limit(ask(one("tenant", "acme"), address))
    verdict = await rl.should_rate_limit(ask(one("tenant", "acme"), address, one("client", "c1")))
    assert verdict.over_limit
    tenant, addr, client = verdict.statuses
    assert (tenant.over_limit, tenant.count, tenant.remaining) == (False, 6, 94)
    assert (addr.over_limit, addr.count) == (True, 6)
    assert (client.limit, client.over_limit) == (None, False)


async def test_descriptors_without_a_limit_and_unknown_domains_are_ok_and_not_counted() -> None:
    store = MemoryCounterStore()
    rl = RateLimiter(small_limits(per_tenant=1), store, FakeClock())
    for _ in range(3):
        verdict = await rl.should_rate_limit(ask(one("tenant", "acme"), domain="elsewhere"))
        assert not verdict.over_limit
        assert verdict.statuses[0].limit is None
        assert not (await rl.should_rate_limit(ask(one("header", "x")))).over_limit
    assert len(store) == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (ask(one("tenant", "acme"), domain=""), "domain"),
        (ask(), "descriptors"),
        (ask(*[one("tenant", str(i)) for i in range(MAX_DESCRIPTORS + 1)]), "descriptors"),
        (ask(Descriptor(entries=())), "descriptors[0].entries"),
        (ask(one("tenant", "a"), Descriptor(entries=(("k", "v"),) * 9)), "descriptors[1].entries"),
        (ask(one("", "acme")), "descriptors[0].entries[0].key"),
        (ask(one("k" * 129, "acme")), "descriptors[0].entries[0].key"),
        (ask(one("tenant", "")), "descriptors[0].entries[0].value"),
        (ask(one("tenant", "v" * (MAX_VALUE_CHARS + 1))), "descriptors[0].entries[0].value"),
    ],
)
async def test_malformed_questions_are_refused_naming_the_field(query: RateLimitQuery, field: str) -> None:
    store = MemoryCounterStore()
    with pytest.raises(MalformedRateLimitRequest) as raised:
        await RateLimiter(small_limits(), store, FakeClock()).should_rate_limit(query)
    assert field in [v.field for v in raised.value.violations]
    assert len(store) == 0


async def test_a_value_of_exactly_the_maximum_length_is_accepted() -> None:
    verdict = await limiter(FakeClock()).should_rate_limit(ask(one("tenant", "v" * MAX_VALUE_CHARS)))
    assert not verdict.over_limit


async def test_memory_store_forgets_counters_after_their_window() -> None:
    store = MemoryCounterStore()
    assert await store.increment([Hit("a", 2, expires_at=100.0), Hit("b", 1, expires_at=200.0)], now=50.0) == [2, 1]
    assert await store.increment([Hit("a", 1, expires_at=100.0)], now=99.0) == [3]
    assert len(store) == 2
    await store.increment([Hit("b", 1, expires_at=200.0)], now=150.0)
    assert len(store) == 1
    assert await store.increment([Hit("b", 1, expires_at=200.0)], now=210.0) == [1]
