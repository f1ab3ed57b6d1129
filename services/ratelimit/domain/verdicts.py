"""The answer to a ShouldRateLimit question: one status per descriptor, over the limit if any is."""

from __future__ import annotations

from dataclasses import dataclass

from services.ratelimit.domain.limits import Limit


@dataclass(frozen=True)
class DescriptorVerdict:
    """One descriptor's outcome; without a limit it is never over and carries no counts."""

    limit: Limit | None = None
    count: int = 0
    until_reset: float = 0.0

    @property
    def over_limit(self) -> bool:
        """True when this window's count exceeds the limit."""
        return self.limit is not None and self.count > self.limit.requests_per_unit

    @property
    def remaining(self) -> int:
        """Hits left in this window (0 when over; 0 without a limit, where it means nothing)."""
        return 0 if self.limit is None else max(self.limit.requests_per_unit - self.count, 0)


@dataclass(frozen=True)
class Verdict:
    """The statuses in the order of the request's descriptors."""

    statuses: tuple[DescriptorVerdict, ...]

    @property
    def over_limit(self) -> bool:
        """True when any descriptor is over its limit."""
        return any(status.over_limit for status in self.statuses)
