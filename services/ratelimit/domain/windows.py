"""Fixed-window counting: which window an instant falls in, when it resets, and its counter's key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from services.ratelimit.domain.limits import Unit
from services.ratelimit.domain.query import Descriptor


@dataclass(frozen=True)
class Window:
    """The fixed window [start, start + unit) in whole epoch seconds; every replica computes the same one."""

    start: int
    unit: Unit

    @classmethod
    def at(cls, now: float, unit: Unit) -> Window:
        """The window containing the epoch instant `now`."""
        return cls(start=math.floor(now / unit.seconds) * unit.seconds, unit=unit)

    @property
    def end(self) -> int:
        """The first instant of the next window."""
        return self.start + self.unit.seconds

    def until_reset(self, now: float) -> float:
        """Seconds from `now` until the counter starts again from zero (never negative)."""
        return max(self.end - now, 0.0)


def counter_key(domain: str, descriptor: Descriptor, window: Window) -> str:
    """The counter of `descriptor` in `window`: unambiguous (entries JSON-encoded), per unit and window start."""
    entries = json.dumps([list(entry) for entry in descriptor.entries], separators=(",", ":"), ensure_ascii=False)
    return f"{domain}|{entries}|{window.unit.name.lower()}|{window.start}"
