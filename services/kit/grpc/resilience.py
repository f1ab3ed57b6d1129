"""Resilient internal calls: propagated deadlines, idempotent retries, a circuit breaker and a bulkhead per target."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import grpc
import pybreaker

from services.kit import backoff, errors
from services.kit.grpc.interceptors import ScopedInterceptor
from services.kit.logs import get_logger
from services.kit.telemetry import metrics

log = get_logger(__name__)
Request = TypeVar("Request")
Response = TypeVar("Response")
Continuation: TypeAlias = Callable[
    [grpc.aio.ClientCallDetails, Request], Awaitable["grpc.aio.UnaryUnaryCall[Request, Response]"]
]

RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
_METHOD = re.compile(r"/[A-Za-z_][\w.]*/[A-Za-z_]\w*")
_incoming_deadline: ContextVar[float | None] = ContextVar("teei_incoming_deadline", default=None)


@dataclass(frozen=True)
class CallPolicy:
    """How calls to one target behave; `idempotent` lists full method names ('/pkg.Service/Method')."""

    timeout: float = 5.0
    attempt_timeout: float | None = None
    idempotent: frozenset[str] = frozenset()
    max_attempts: int = 3
    backoff_base: float = 0.05
    backoff_max: float = 1.0
    failure_threshold: int = 5
    reset_timeout: float = 10.0
    max_concurrency: int = 64
    queue_timeout: float = 0.05

    def __post_init__(self) -> None:
        positive = {"timeout": self.timeout, "backoff_base": self.backoff_base, "reset_timeout": self.reset_timeout}
        positive |= {
            "backoff_max": self.backoff_max,
            "attempt_timeout": 1.0 if self.attempt_timeout is None else self.attempt_timeout,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        for name, count in (("max_attempts", self.max_attempts), ("failure_threshold", self.failure_threshold)):
            if count < 1:
                raise ValueError(f"{name} must be at least 1, got {count}")
        if self.max_concurrency < 1 or self.queue_timeout < 0:
            raise ValueError("max_concurrency must be at least 1 and queue_timeout not negative")
        malformed = sorted(m for m in self.idempotent if not _METHOD.fullmatch(m))
        if malformed:
            raise ValueError(f"idempotent: not full method names ('/pkg.Service/Method'): {malformed}")


@contextmanager
def deadline_scope(context: grpc.aio.ServicerContext[Any, Any]) -> Iterator[None]:
    """Makes the incoming RPC's deadline the upper bound of every outgoing call made inside the block."""
    remaining = context.time_remaining()
    token = _incoming_deadline.set(None if remaining is None else time.monotonic() + remaining)
    try:
        yield
    finally:
        _incoming_deadline.reset(token)


def remaining_time() -> float | None:
    """Seconds left of the incoming RPC's deadline; None outside a deadline scope or without a deadline."""
    deadline = _incoming_deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class DeadlineInterceptor(ScopedInterceptor):
    """Server interceptor running each RPC inside `deadline_scope`, so its outgoing calls inherit the deadline."""

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        with deadline_scope(context):
            yield


def effective_timeout(configured: float, caller: float | None, incoming: float | None) -> float:
    """The tightest of the configured timeout, the caller's explicit timeout and the incoming remaining time."""
    return max(0.0, min(t for t in (configured, caller, incoming) if t is not None))


def retry_delay(
    policy: CallPolicy,
    *,
    code: grpc.StatusCode,
    attempt: int,
    remaining: float,
    idempotent: bool,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """The back-off before another attempt, or None when the call must not be retried."""
    if not idempotent or code not in RETRYABLE or attempt >= policy.max_attempts:
        return None
    # Full jitter: a caller may come back at once, which spreads many callers' retries widest.
    delay = backoff.delay(attempt, base=policy.backoff_base, cap=policy.backoff_max, rng=rng)
    # An attempt that could only start at or after the deadline would spend the caller's time for nothing.
    return delay if delay < remaining else None


def _not_a_target_failure(exc: BaseException) -> bool:
    # Only retryable codes say the target is unwell; NOT_FOUND and friends are answers. A cancelled
    # attempt is the caller's decision and is not held against the target (pybreaker counts it as answered).
    return not (isinstance(exc, grpc.aio.AioRpcError) and exc.code() in RETRYABLE)


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        previous = None if old_state is None else old_state.name
        log.warning("resilience.breaker", target=cb.name, previous=previous, state=new_state.name)
        metrics.BREAKER_STATE.labels(cb.name).set(metrics.BREAKER_STATES.get(new_state.name, 0))


class Resilience(grpc.aio.UnaryUnaryClientInterceptor):
    """Client interceptor for one target: deadline, retries of idempotent methods, breaker and bulkhead.

    Build one per target and event loop, and pass it to the target's channel, e.g.
    `channels.insecure_channel(address, interceptors=[Resilience("profile", policy)])`. Calls refused by
    the open breaker or the full bulkhead raise `errors.Unavailable` without touching the network; other
    failures surface as the call's `grpc.aio.AioRpcError`. Streaming RPCs are not intercepted.
    """

    def __init__(self, target: str, policy: CallPolicy) -> None:
        self.target, self.policy = target, policy
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=policy.failure_threshold,
            reset_timeout=policy.reset_timeout,
            exclude=[_not_a_target_failure],
            listeners=[_BreakerLog()],
            name=target,
            throw_new_error_on_trip=False,
        )
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        metrics.BREAKER_STATE.labels(target).set(metrics.BREAKER_STATES["closed"])
        metrics.BULKHEAD_LIMIT.labels(target).set(policy.max_concurrency)
        self._in_use = metrics.BULKHEAD_IN_USE.labels(target)

    async def intercept_unary_unary(
        self,
        continuation: Continuation[Request, Response],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> grpc.aio.UnaryUnaryCall[Request, Response]:
        timeout = effective_timeout(self.policy.timeout, client_call_details.timeout, remaining_time())
        deadline = time.monotonic() + timeout
        method: object = client_call_details.method  # bytes at run time, whatever the stubs say
        name = method.decode() if isinstance(method, bytes) else str(method)
        async with self._slot(deadline):
            return await self._attempts(
                continuation, client_call_details, request, deadline, idempotent=name in self.policy.idempotent
            )

    async def _attempts(
        self,
        continuation: Continuation[Request, Response],
        details: grpc.aio.ClientCallDetails,
        request: Request,
        deadline: float,
        *,
        idempotent: bool,
    ) -> grpc.aio.UnaryUnaryCall[Request, Response]:
        attempt = 1
        while True:
            try:
                return await self._attempt(continuation, details, request, deadline)
            except grpc.aio.AioRpcError as exc:
                remaining = deadline - time.monotonic()
                delay = retry_delay(
                    self.policy, code=exc.code(), attempt=attempt, remaining=remaining, idempotent=idempotent
                )
                if delay is None:
                    raise
                log.info("resilience.retry", target=self.target, code=exc.code().name, attempt=attempt)
            await asyncio.sleep(delay)  # the back-off itself
            attempt += 1

    async def _attempt(
        self,
        continuation: Continuation[Request, Response],
        details: grpc.aio.ClientCallDetails,
        request: Request,
        deadline: float,
    ) -> grpc.aio.UnaryUnaryCall[Request, Response]:
        timeout = max(0.0, deadline - time.monotonic())
        if self.policy.attempt_timeout is not None:
            timeout = min(timeout, self.policy.attempt_timeout)
        if timeout <= 0:
            # The caller's time is already spent: answer as gRPC would, without a network round trip.
            raise _deadline_exceeded(self.target)
        try:
            with self.breaker.calling():
                call = await continuation(_with_timeout(details, timeout), request)
                await call
                return call
        except pybreaker.CircuitBreakerError:
            raise errors.Unavailable(
                f"{self.target} is failing: circuit open after {self.policy.failure_threshold} consecutive "
                f"failures; calls fail fast for {self.policy.reset_timeout}s before a trial call"
            ) from None

    @asynccontextmanager
    async def _slot(self, deadline: float) -> AsyncIterator[None]:
        wait = min(self.policy.queue_timeout, max(0.0, deadline - time.monotonic()))
        try:
            # wait_for with a zero timeout refuses even a free slot, so only wait when all are taken.
            if self._slots.locked():
                await asyncio.wait_for(self._slots.acquire(), wait)
            else:
                await self._slots.acquire()
        except TimeoutError:
            metrics.BULKHEAD_REJECTED.labels(self.target).inc()
            raise errors.Unavailable(
                f"{self.target} is saturated: {self.policy.max_concurrency} calls in flight, "
                f"no slot freed within {wait:.3f}s"
            ) from None
        self._in_use.inc()
        try:
            yield
        finally:
            self._in_use.dec()
            self._slots.release()


def _with_timeout(details: grpc.aio.ClientCallDetails, timeout: float) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=timeout,
        metadata=details.metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


def _deadline_exceeded(target: str) -> grpc.aio.AioRpcError:
    empty = grpc.aio.Metadata()
    details = f"no time left for a call to {target}: the caller's deadline has passed"
    return grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, empty, empty, details=details)
