"""The write side of the counters: a `CounterStore` Protocol and its adapters, Redis (shared by replicas,
one atomic fixed-window increment per request) and memory (one replica)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from services.kit.logs import get_logger
from services.ratelimit.domain.errors import CounterStoreUnavailable

log = get_logger(__name__)

# INCRBY and, on the hit that creates the counter, PEXPIRE: one atomic step per counter, so concurrent
# callers on any replica never both see the same count and no counter outlives its window.
INCREMENT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i - 1])
  local count = redis.call('INCRBY', key, amount)
  if count == amount then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  end
  counts[i] = count
end
return counts
"""
# A little beyond the window's end, so a replica whose clock lags still finds the counter.
EXPIRY_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Hit:
    """Add `amount` to the counter `key`, which may be forgotten after the epoch instant `expires_at`."""

    key: str
    amount: int
    expires_at: float

    def ttl_ms(self, now: float) -> int:
        """Milliseconds from `now` until the counter may be forgotten (at least 1)."""
        return max(math.ceil((self.expires_at + EXPIRY_GRACE_SECONDS - now) * 1000), 1)


class CounterStore(Protocol):
    """Where fixed-window counters live."""

    async def increment(self, hits: Sequence[Hit], *, now: float) -> list[int]:
        """Adds every hit atomically and returns the new counts in order; CounterStoreUnavailable on failure."""
        ...

    async def close(self) -> None:
        """Releases connections."""
        ...


class MemoryCounterStore:
    """Counters in this process: exact for one replica, wrong for several (each counts on its own).

    Increments never await, so concurrent RPCs on the event loop cannot interleave inside one.
    """

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    async def increment(self, hits: Sequence[Hit], *, now: float) -> list[int]:
        """Adds every hit and returns the new counts."""
        self._sweep(now)
        return [self._add(hit, now) for hit in hits]

    def _add(self, hit: Hit, now: float) -> int:
        count, expires_at = self._counts.get(hit.key, (0, 0.0))
        if expires_at <= now:
            count, expires_at = 0, now + hit.ttl_ms(now) / 1000
        self._counts[hit.key] = (count + hit.amount, expires_at)
        return count + hit.amount

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._counts = {key: entry for key, entry in self._counts.items() if entry[1] > now}
        self._next_sweep = now + 1.0

    def __len__(self) -> int:
        return len(self._counts)

    async def close(self) -> None:
        """Nothing to release."""


class RedisCounterStore:
    """Counters in Redis, shared by every replica; one round trip (a Lua script) per RLS request."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(INCREMENT_SCRIPT)
        self._failing = False

    @classmethod
    def from_url(cls, url: str, *, prefix: str, timeout: float) -> RedisCounterStore:
        """A store on the Redis at `url`; connects lazily, one quick retry, `timeout` seconds per attempt."""
        client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
        )
        return cls(client, prefix=prefix)

    async def increment(self, hits: Sequence[Hit], *, now: float) -> list[int]:
        """Adds every hit in one script call; CounterStoreUnavailable when Redis fails or times out."""
        keys = [self._prefix + hit.key for hit in hits]
        args = [value for hit in hits for value in (hit.amount, hit.ttl_ms(now))]
        try:
            counts = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._note_failure(exc)
            raise CounterStoreUnavailable("the rate-limit counter store is unavailable") from exc
        self._note_success()
        return [int(count) for count in counts]

    def _note_failure(self, exc: Exception) -> None:
        # One warning per outage, not one per request: RLS is asked on every request at the edge.
        if not self._failing:
            log.warning("ratelimit.store_failing", backend="redis", error=type(exc).__name__, detail=str(exc))
        self._failing = True

    def _note_success(self) -> None:
        if self._failing:
            log.info("ratelimit.store_recovered", backend="redis")
        self._failing = False

    async def close(self) -> None:
        """Closes the connection pool."""
        await self._client.aclose()


def describe_redis_url(url: str) -> str:
    """`redis://host:port/db` without user or password, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if parts.hostname else ''}"
