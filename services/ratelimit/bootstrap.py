"""Builds the rate-limit service from config with production defaults; tests pass their own parts.

Counters live in Redis when REDIS_URL (or REDIS_URL_FILE) is set, so every replica shares them;
otherwise in this process, which is exact only while one replica runs (what `make up` does).
When Redis fails or times out the RPC answers UNAVAILABLE and Envoy's rate-limit filter applies its
`failure_mode_deny` (false by default: the request passes, fail open) — one switch, at the edge.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from services.kit import config as config_module
from services.kit.clock import EpochClock
from services.kit.config import ServiceConfig
from services.kit.grpc.server import Registration, Service
from services.kit.logs import get_logger
from services.ratelimit.domain.limits import Limits
from services.ratelimit.grpc_api import RateLimitServicer
from services.ratelimit.handlers import RateLimiter
from services.ratelimit.repository import CounterStore, MemoryCounterStore, RedisCounterStore, describe_redis_url
from services.ratelimit.settings import RateLimitConfig, load_limits
from services.ratelimit.wire import rls_pb2, rls_pb2_grpc

NAME = "ratelimit"
# An RLS request is a handful of short descriptors; anything near this size is not one.
MAX_REQUEST_BYTES = 64 * 1024
log = get_logger(__name__)


def open_store(settings: RateLimitConfig) -> CounterStore:
    """Redis at REDIS_URL, else an in-process store; logs which, never the URL's credentials."""
    if settings.redis_url:
        log.info("ratelimit.store", backend="redis", redis=describe_redis_url(settings.redis_url))
        return RedisCounterStore.from_url(
            settings.redis_url, prefix=settings.redis_prefix, timeout=settings.redis_timeout_seconds
        )
    log.info("ratelimit.store", backend="memory", note="REDIS_URL not set: counts are exact for one replica only")
    return MemoryCounterStore()


def build(
    config: ServiceConfig,
    *,
    environ: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    store: CounterStore | None = None,
    clock: EpochClock | None = None,
) -> Service:
    """The rate-limit service: limits loaded (fails fast when malformed), counters in Redis or memory."""
    settings = config_module.load(RateLimitConfig, os.environ if environ is None else environ)
    limits = limits or load_limits(settings.limits_path)
    store = store or open_store(settings)
    limiter = RateLimiter(limits=limits, store=store, clock=clock or time.time)
    log.info("ratelimit.limits", domain=limits.domain, keys=sorted(limits.keys))
    servicer = RateLimitServicer(limiter=limiter)
    return Service(
        name=NAME,
        config=config,
        registrations=[Registration.of(rls_pb2, rls_pb2_grpc, "RateLimitService", servicer)],
        on_stop=[store.close],
        max_message_bytes=MAX_REQUEST_BYTES,
    )
