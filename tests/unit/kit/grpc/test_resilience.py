"""The pure decisions of resilient calls: policy validation, timeouts, back-off and when to retry."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest

from services.kit.grpc.resilience import CallPolicy, effective_timeout, remaining_time, retry_delay

GET = "/teei.profile.v1.ProfileService/GetProfile"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0.0),
        ("attempt_timeout", 0.0),
        ("backoff_base", 0.0),
        ("reset_timeout", -0.1),
        ("max_attempts", 0),
        ("failure_threshold", 0),
        ("max_concurrency", 0),
        ("queue_timeout", -0.01),
    ],
)
def test_policy_refuses_values_that_cannot_work(field: str, value: float) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(CallPolicy(), **changes)


@pytest.mark.parametrize("name", ["GetProfile", "teei.profile.v1.ProfileService/GetProfile", "/svc/", "/a b/C"])
def test_policy_refuses_idempotent_names_that_are_not_full_method_names(name: str) -> None:
    with pytest.raises(ValueError, match="idempotent"):
        CallPolicy(idempotent=frozenset({name}))


def test_policy_accepts_full_method_names() -> None:
    assert GET in CallPolicy(idempotent=frozenset({GET})).idempotent


@pytest.mark.parametrize(
    ("configured", "caller", "incoming", "expected"),
    [
        (5.0, None, None, 5.0),
        (5.0, 2.0, None, 2.0),
        (5.0, None, 0.3, 0.3),
        (0.1, 2.0, 0.3, 0.1),
        (5.0, None, -0.2, 0.0),
    ],
)
def test_effective_timeout_is_the_tightest_bound(
    configured: float, caller: float | None, incoming: float | None, expected: float
) -> None:
    assert effective_timeout(configured, caller, incoming) == pytest.approx(expected)


def test_no_incoming_deadline_outside_a_server_rpc() -> None:
    assert remaining_time() is None


def _delay(code: grpc.StatusCode, *, attempt: int = 1, remaining: float = 5.0, idempotent: bool = True) -> float | None:
    policy = CallPolicy(max_attempts=3, backoff_base=0.05)
    return retry_delay(policy, code=code, attempt=attempt, remaining=remaining, idempotent=idempotent, rng=lambda: 0.5)


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED]
)
def test_retryable_codes_of_idempotent_methods_are_retried(code: grpc.StatusCode) -> None:
    assert _delay(code) == pytest.approx(0.025)


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    ],
)
def test_other_codes_are_never_retried(code: grpc.StatusCode) -> None:
    assert _delay(code) is None


def test_retries_use_full_jitter_so_a_caller_may_come_back_at_once() -> None:
    policy = CallPolicy(backoff_base=0.05)
    code = grpc.StatusCode.UNAVAILABLE
    assert retry_delay(policy, code=code, attempt=1, remaining=5.0, idempotent=True, rng=lambda: 0.0) == 0.0


def test_non_idempotent_methods_are_never_retried() -> None:
    assert _delay(grpc.StatusCode.UNAVAILABLE, idempotent=False) is None


def test_retries_stop_at_max_attempts() -> None:
    assert _delay(grpc.StatusCode.UNAVAILABLE, attempt=2) is not None
    assert _delay(grpc.StatusCode.UNAVAILABLE, attempt=3) is None


@pytest.mark.parametrize("remaining", [0.025, 0.01, 0.0, -1.0])
def test_no_retry_when_the_back_off_would_reach_the_deadline(remaining: float) -> None:
    assert _delay(grpc.StatusCode.DEADLINE_EXCEEDED, remaining=remaining) is None
