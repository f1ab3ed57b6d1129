"""RateLimitService servicer: RLS proto ⇄ domain question, nothing else."""

from __future__ import annotations

from typing import Any

import grpc

from services.kit.telemetry import metrics
from services.ratelimit.handlers import RateLimiter
from services.ratelimit.wire import RateLimitRequest, RateLimitResponse, query_of, response_of

Context = grpc.aio.ServicerContext[Any, Any]


class RateLimitServicer:
    """Serves `envoy.service.ratelimit.v3.RateLimitService` (the edge's global rate-limit filter asks it)."""

    def __init__(self, *, limiter: RateLimiter) -> None:
        self._limiter = limiter

    async def ShouldRateLimit(self, request: RateLimitRequest, context: Context) -> RateLimitResponse:
        """Counts the request's descriptors and answers OK or OVER_LIMIT with a status per descriptor."""
        query = query_of(request)
        verdict = await self._limiter.should_rate_limit(query)
        metrics.RATELIMIT_VERDICTS.labels(query.domain, "OVER_LIMIT" if verdict.over_limit else "OK").inc()
        return response_of(verdict)
