"""Test parts for the rate limiter: a clock the test moves, and small limits."""

from __future__ import annotations

from dataclasses import dataclass

from services.ratelimit.domain.limits import KeyLimits, Limit, Limits, Unit
from services.ratelimit.domain.query import Descriptor

# 2026-01-01T00:00:00Z: a minute, hour and day boundary.
EPOCH = 1_767_225_600.0


@dataclass
class FakeClock:
    """Epoch seconds that only move when the test says so."""

    now: float = EPOCH

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        self.now += seconds


def small_limits(per_tenant: int = 3, unit: Unit = Unit.MINUTE) -> Limits:
    """`per_tenant` per `unit` for every tenant, 10 for tenant bigcorp, 5 per second per address."""
    return Limits(
        domain="teei",
        keys={
            "tenant": KeyLimits(
                default=Limit(per_tenant, unit, "tenant"),
                overrides={"bigcorp": Limit(10, unit, "tenant override")},
            ),
            "remote_address": KeyLimits(default=Limit(5, Unit.SECOND, "remote_address")),
        },
    )


def one(key: str, value: str, hits: int = 1) -> Descriptor:
    """A descriptor of one entry."""
    return Descriptor(entries=((key, value),), hits=hits)
