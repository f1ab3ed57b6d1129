"""Q2Q's own settings, read once at start: where Safety is, and how calls to it and their retries behave."""

from __future__ import annotations

from typing import Any

from services.kit.config import Settings, setting
from services.kit.grpc.resilience import CallPolicy

SCREEN_TEXT = "/teei.safety.v1.SafetyService/ScreenText"


class Q2qSettings(Settings):
    """Settings of the synchronous screening call to Safety and of the retrier of texts awaiting screening.

    Without `safety_address`, Classify with `store=true` fails closed (FAILED_PRECONDITION
    SCREENING_NOT_CONFIGURED): nothing unscreened is ever stored. Pure classification needs no Safety.
    """

    safety_address: str | None = setting("TEEI_SAFETY_ADDRESS", default=None)
    # Upper bound of one screening call; the caller's own deadline, when tighter, wins.
    screening_timeout_seconds: float = setting("TEEI_Q2Q_SCREENING_TIMEOUT_SECONDS", default=2.0)
    breaker_failures: int = setting("TEEI_Q2Q_SAFETY_BREAKER_FAILURES", default=5)
    breaker_reset_seconds: float = setting("TEEI_Q2Q_SAFETY_BREAKER_RESET_SECONDS", default=10.0)
    max_concurrent_screenings: int = setting("TEEI_Q2Q_SAFETY_MAX_CONCURRENCY", default=32)
    # The retrier: first pause, longest pause (back-off while Safety cannot answer), texts per run.
    retry_interval_seconds: float = setting("TEEI_Q2Q_SCREENING_RETRY_SECONDS", default=5.0)
    retry_max_interval_seconds: float = setting("TEEI_Q2Q_SCREENING_RETRY_MAX_SECONDS", default=300.0)
    retry_batch: int = setting("TEEI_Q2Q_SCREENING_RETRY_BATCH", default=50)

    def model_post_init(self, context: Any, /) -> None:
        if self.retry_interval_seconds <= 0 or self.retry_max_interval_seconds < self.retry_interval_seconds:
            raise ValueError("the screening retry interval must be positive and at most the longest interval")
        if self.retry_batch < 1:
            raise ValueError("the screening retry batch must be at least 1")
        self.call_policy()  # fails at start on a breaker or bulkhead setting CallPolicy refuses

    def call_policy(self) -> CallPolicy:
        """How calls to Safety behave: ScreenText is retried because Safety answers a repeated screening
        of the same record (source type and id, always sent) with its first result."""
        return CallPolicy(
            timeout=self.screening_timeout_seconds,
            idempotent=frozenset({SCREEN_TEXT}),
            failure_threshold=self.breaker_failures,
            reset_timeout=self.breaker_reset_seconds,
            max_concurrency=self.max_concurrent_screenings,
        )
