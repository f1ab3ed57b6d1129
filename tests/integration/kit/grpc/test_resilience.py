"""Resilient internal calls against real grpc.aio servers on loopback: retries, breaker, deadlines, bulkhead."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pybreaker
import pytest

from services.kit import errors
from services.kit.grpc.channels import insecure_channel
from services.kit.grpc.resilience import CallPolicy, DeadlineInterceptor, Resilience, remaining_time

GET, PUT, SLOW, RELAY = "/test.Probe/Get", "/test.Probe/Put", "/test.Probe/Slow", "/test.Front/Relay"
Context = grpc.aio.ServicerContext[bytes, bytes]


def wire_slack(seconds: float) -> float:
    """How much the grpc-timeout header may round a timeout up: whole ms below 1 s, 10 ms below 10 s."""
    return 0.001 if seconds < 1 else 0.01


@dataclass
class Backend:
    """A scripted server: fails the first `failures` calls of each method, holds Slow calls until released."""

    failures: int = 0
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    answer_slow_after: int | None = None
    calls: Counter[str] = field(default_factory=Counter)
    remaining: list[float | None] = field(default_factory=list)
    held: int = 0
    all_held: asyncio.Event = field(default_factory=asyncio.Event)
    hold_target: int = 1
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def answer(self, request: bytes, context: Context, method: str) -> bytes:
        self.calls[method] += 1
        if self.calls[method] <= self.failures:
            await context.abort(self.code, f"scripted failure {self.calls[method]}")
        return request

    async def get(self, request: bytes, context: Context) -> bytes:
        return await self.answer(request, context, GET)

    async def put(self, request: bytes, context: Context) -> bytes:
        return await self.answer(request, context, PUT)

    async def slow(self, request: bytes, context: Context) -> bytes:
        self.calls[SLOW] += 1
        self.remaining.append(context.time_remaining())
        if self.answer_slow_after is not None and self.calls[SLOW] > self.answer_slow_after:
            return request
        self.held += 1
        if self.held >= self.hold_target:
            self.all_held.set()
        await self.release.wait()
        return request

    def handler(self) -> grpc.GenericRpcHandler:
        behaviours = {"Get": self.get, "Put": self.put, "Slow": self.slow}
        handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
            name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in behaviours.items()
        }
        return grpc.method_handlers_generic_handler("test.Probe", handlers)


async def serve(backend: Backend, port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((backend.handler(),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
async def backend_port(backend: Backend) -> AsyncIterator[int]:
    server, port = await serve(backend)
    try:
        yield port
    finally:
        await server.stop(None)


@asynccontextmanager
async def client(port: int, policy: CallPolicy) -> AsyncIterator[tuple[Resilience, grpc.aio.Channel]]:
    resilience = Resilience("probe", policy)
    channel = insecure_channel(f"127.0.0.1:{port}", interceptors=[resilience])
    try:
        yield resilience, channel
    finally:
        await channel.close()


async def call(channel: grpc.aio.Channel, method: str, *, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - the gRPC call's own timeout
    multicallable: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
    return await multicallable(b"x", timeout=timeout)


async def code_of(
    channel: grpc.aio.Channel,
    method: str,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - the gRPC call's own timeout
) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call(channel, method, timeout=timeout)
    return failure.value.code()


class Transitions(pybreaker.CircuitBreakerListener):
    """Records the breaker's state changes and when (time.monotonic) each state was last entered."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.at: dict[str, float] = {}

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self.seen.append(new_state.name)
        self.at[new_state.name] = time.monotonic()


async def wait_out_reset(transitions: Transitions, policy: CallPolicy) -> None:
    """Bounded wait (reset_timeout, 0.2 s here) until the open breaker lets a trial call through."""
    left = transitions.at["open"] + policy.reset_timeout + 0.01 - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
async def test_idempotent_method_is_retried_after_transient_failures(
    backend: Backend, backend_port: int, code: grpc.StatusCode
) -> None:
    backend.failures, backend.code = 2, code
    async with client(backend_port, CallPolicy(idempotent=frozenset({GET}), max_attempts=3)) as (_, channel):
        assert await call(channel, GET) == b"x"
    assert backend.calls[GET] == 3


async def test_idempotent_retries_stop_after_max_attempts(backend: Backend, backend_port: int) -> None:
    backend.failures = 10
    async with client(backend_port, CallPolicy(idempotent=frozenset({GET}), max_attempts=3)) as (_, channel):
        assert await code_of(channel, GET) == grpc.StatusCode.UNAVAILABLE
    assert backend.calls[GET] == 3


async def test_non_idempotent_method_is_never_retried(backend: Backend, backend_port: int) -> None:
    backend.failures = 1
    async with client(backend_port, CallPolicy(idempotent=frozenset({GET}), max_attempts=5)) as (_, channel):
        assert await code_of(channel, PUT) == grpc.StatusCode.UNAVAILABLE
    assert backend.calls[PUT] == 1


async def test_non_retryable_code_is_not_retried(backend: Backend, backend_port: int) -> None:
    backend.failures, backend.code = 1, grpc.StatusCode.NOT_FOUND
    async with client(backend_port, CallPolicy(idempotent=frozenset({GET}), max_attempts=5)) as (_, channel):
        assert await code_of(channel, GET) == grpc.StatusCode.NOT_FOUND
    assert backend.calls[GET] == 1


async def test_timed_out_attempt_is_retried_while_the_deadline_allows(backend: Backend, backend_port: int) -> None:
    backend.answer_slow_after = 1
    policy = CallPolicy(timeout=5.0, attempt_timeout=0.1, idempotent=frozenset({SLOW}))
    async with client(backend_port, policy) as (_, channel):
        assert await call(channel, SLOW) == b"x"
    assert backend.calls[SLOW] == 2
    first = backend.remaining[0]
    assert first is not None
    assert first <= 0.1 + wire_slack(0.1)


async def test_slow_server_fails_at_the_configured_deadline_without_retry(backend: Backend, backend_port: int) -> None:
    policy = CallPolicy(timeout=2.0, idempotent=frozenset({SLOW}))
    async with client(backend_port, policy) as (_, channel):
        started = time.perf_counter()
        assert await code_of(channel, SLOW) == grpc.StatusCode.DEADLINE_EXCEEDED
        elapsed = time.perf_counter() - started
    print(f"\ndeadline-bound call: {elapsed * 1000:.1f} ms against a 2 s deadline")
    assert 1.9 <= elapsed < 15.0  # not before the deadline; bounded far below a second 2 s attempt's end
    assert backend.calls[SLOW] == 1  # no time left for a second attempt
    seen = backend.remaining[0]
    assert seen is not None
    assert seen <= 2.0 + wire_slack(2.0)


async def test_caller_timeout_shorter_than_the_policy_wins(backend: Backend, backend_port: int) -> None:
    async with client(backend_port, CallPolicy(timeout=30.0)) as (_, channel):
        started = time.perf_counter()
        assert await code_of(channel, SLOW, timeout=1.0) == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.perf_counter() - started < 15.0  # the caller's 1 s, nowhere near the policy's 30 s
    seen = backend.remaining[0]
    assert seen is not None
    assert seen <= 1.0 + wire_slack(1.0)


async def test_incoming_deadline_bounds_the_outgoing_call(backend: Backend, backend_port: int) -> None:
    """A server handling an RPC with 0.5 s left calls on with at most that, not its 30 s policy."""
    observed: dict[str, Any] = {}
    async with client(backend_port, CallPolicy(timeout=30.0)) as (_, back):

        async def relay(request: bytes, context: Context) -> bytes:
            observed["front_remaining"] = remaining_time()
            try:
                return await call(back, SLOW)
            except grpc.aio.AioRpcError as exc:
                observed["downstream"] = exc.code()
                await context.abort(exc.code(), exc.details() or "")

        front = grpc.aio.server(interceptors=[DeadlineInterceptor()])
        relay_handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(relay)
        front.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Front", {"Relay": relay_handler}),))
        front_port = front.add_insecure_port("127.0.0.1:0")
        await front.start()
        try:
            async with insecure_channel(f"127.0.0.1:{front_port}") as caller:
                started = time.perf_counter()
                assert await code_of(caller, RELAY, timeout=0.5) == grpc.StatusCode.DEADLINE_EXCEEDED
                assert time.perf_counter() - started < 15.0  # the caller's 0.5 s, not the 30 s policy
        finally:
            await front.stop(None)
    front_remaining, back_remaining = observed["front_remaining"], backend.remaining[0]
    assert front_remaining is not None
    assert back_remaining is not None
    assert front_remaining <= 0.5 + wire_slack(0.5)
    assert back_remaining <= front_remaining + wire_slack(front_remaining)


async def test_breaker_opens_and_then_fails_fast_without_reaching_the_server(
    backend: Backend, backend_port: int
) -> None:
    backend.failures = 100
    policy = CallPolicy(timeout=2.0, failure_threshold=3, reset_timeout=30.0)
    async with client(backend_port, policy) as (resilience, channel):
        for _ in range(3):
            assert await code_of(channel, PUT) == grpc.StatusCode.UNAVAILABLE
        assert resilience.breaker.current_state == pybreaker.STATE_OPEN
        started = time.perf_counter()
        with pytest.raises(errors.Unavailable, match="probe is failing: circuit open"):
            await call(channel, PUT)
        assert time.perf_counter() - started < 1.0
    assert backend.calls[PUT] == 3  # the open breaker's call never reached the server


async def test_answers_that_are_not_outages_keep_the_breaker_closed(backend: Backend, backend_port: int) -> None:
    backend.failures, backend.code = 100, grpc.StatusCode.NOT_FOUND
    async with client(backend_port, CallPolicy(failure_threshold=2)) as (resilience, channel):
        for _ in range(4):
            assert await code_of(channel, PUT) == grpc.StatusCode.NOT_FOUND
        assert resilience.breaker.current_state == pybreaker.STATE_CLOSED
    assert backend.calls[PUT] == 4


async def test_breaker_lifecycle_across_a_server_outage(backend: Backend) -> None:
    """Opens after N failures once the server died, fails fast, re-opens on a failed trial, closes on return."""
    policy = CallPolicy(timeout=2.0, failure_threshold=3, reset_timeout=0.2)
    server, port = await serve(backend)
    transitions = Transitions()
    async with client(port, policy) as (resilience, channel):
        resilience.breaker.add_listener(transitions)
        assert await call(channel, PUT) == b"x"
        await server.stop(None)
        died = time.monotonic()
        for _ in range(3):
            assert await code_of(channel, PUT) == grpc.StatusCode.UNAVAILABLE
        opened_after = transitions.at["open"] - died
        started = time.perf_counter()
        with pytest.raises(errors.Unavailable, match="circuit open after 3 consecutive failures"):
            await call(channel, PUT)
        fail_fast = time.perf_counter() - started
        assert fail_fast < 0.05

        await wait_out_reset(transitions, policy)
        assert await code_of(channel, PUT) == grpc.StatusCode.UNAVAILABLE  # the trial fails: open again
        assert transitions.seen == ["open", "half-open", "open"]

        server, _ = await serve(backend, port)
        back = time.monotonic()
        try:
            await asyncio.wait_for(channel.channel_ready(), 10)
            reconnected = time.monotonic() - back
            await wait_out_reset(transitions, policy)
            assert await call(channel, PUT) == b"x"
        finally:
            await server.stop(None)
        assert transitions.seen == ["open", "half-open", "open", "half-open", "closed"]
        closed_after = transitions.at["closed"] - back
    print(
        f"\nbreaker opened {opened_after * 1000:.1f} ms after the server died; "
        f"fail-fast call {fail_fast * 1000:.2f} ms (deadline 2 s); "
        f"channel reconnected {reconnected * 1000:.1f} ms and breaker closed {closed_after * 1000:.1f} ms "
        f"after the server returned (reset_timeout 0.2 s)"
    )


async def test_bulkhead_rejects_the_call_beyond_its_cap(backend: Backend, backend_port: int) -> None:
    backend.hold_target = 2
    policy = CallPolicy(timeout=5.0, max_concurrency=2, queue_timeout=0.05)
    async with client(backend_port, policy) as (_, channel):
        held = [asyncio.create_task(call(channel, SLOW)) for _ in range(2)]
        await asyncio.wait_for(backend.all_held.wait(), 5)
        started = time.perf_counter()
        with pytest.raises(errors.Unavailable, match="probe is saturated: 2 calls in flight"):
            await call(channel, GET)
        waited = time.perf_counter() - started
        assert 0.04 <= waited < 0.5
        assert backend.calls[GET] == 0
        backend.release.set()
        assert await asyncio.gather(*held) == [b"x", b"x"]
        assert await call(channel, GET) == b"x"  # the slots were given back
