"""ShouldRateLimit: validate the question, count every limited descriptor in one step, judge each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.kit.clock import EpochClock
from services.kit.logs import get_logger
from services.ratelimit.domain.limits import Limit, Limits
from services.ratelimit.domain.query import Descriptor, RateLimitQuery, validate
from services.ratelimit.domain.verdicts import DescriptorVerdict, Verdict
from services.ratelimit.domain.windows import Window, counter_key
from services.ratelimit.repository import CounterStore, Hit

log = get_logger(__name__)
_MAX_WARNED_DOMAINS = 64


@dataclass(frozen=True)
class _Counted:
    limit: Limit
    window: Window


@dataclass
class RateLimiter:
    """Judges RLS questions against `limits`, counting in `store` by the epoch seconds of `clock`."""

    limits: Limits
    store: CounterStore
    clock: EpochClock = time.time
    _warned_domains: set[str] = field(default_factory=set)

    async def should_rate_limit(self, query: RateLimitQuery) -> Verdict:
        """The verdict on `query`; descriptors without a configured limit are OK and not counted."""
        validate(query)
        self._note_unknown_domain(query.domain)
        now = self.clock()
        counted = [self._counted(query.domain, d, now) for d in query.descriptors]
        hits = [
            Hit(counter_key(query.domain, d, c.window), d.hits, float(c.window.end))
            for d, c in zip(query.descriptors, counted, strict=True)
            if c is not None
        ]
        counts = iter(await self.store.increment(hits, now=now) if hits else ())
        return Verdict(tuple(_judge(c, counts, now) for c in counted))

    def _counted(self, domain: str, descriptor: Descriptor, now: float) -> _Counted | None:
        limit = self.limits.limit_for(domain, descriptor)
        return None if limit is None else _Counted(limit, Window.at(now, limit.unit))

    def _note_unknown_domain(self, domain: str) -> None:
        known = domain == self.limits.domain or domain in self._warned_domains
        if not known and len(self._warned_domains) < _MAX_WARNED_DOMAINS:
            # Once per domain (and a bounded set): a misconfigured edge would otherwise log every request.
            self._warned_domains.add(domain)
            log.warning("ratelimit.unknown_domain", domain=domain, configured=self.limits.domain)


def _judge(counted: _Counted | None, counts: Iterator[int], now: float) -> DescriptorVerdict:
    if counted is None:
        return DescriptorVerdict()
    return DescriptorVerdict(counted.limit, next(counts), counted.window.until_reset(now))
