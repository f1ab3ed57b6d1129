"""The rate-limit service's errors: one root, each also a kit error kind the runtime maps to a gRPC status."""

from __future__ import annotations

from services.kit.errors import DomainError, InvalidArgument, Unavailable


class RateLimitError(DomainError):
    """Root of the rate-limit service's errors."""

    reason = "RATE_LIMIT_ERROR"


class MalformedRateLimitRequest(RateLimitError, InvalidArgument):
    """The RLS request breaks a rule (empty domain, no descriptors, oversized entries); violations name them."""

    reason = "MALFORMED_RATE_LIMIT_REQUEST"


class CounterStoreUnavailable(RateLimitError, Unavailable):
    """The shared counter store (Redis) did not answer; Envoy applies its `failure_mode_deny`."""

    reason = "COUNTER_STORE_UNAVAILABLE"


class LimitsConfigError(ValueError):
    """The limits file is malformed; the message names the offending entry."""
