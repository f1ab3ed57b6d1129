"""The one exponential back-off of the mesh: gRPC retries, event redeliveries and background retriers."""

from __future__ import annotations

import random
from collections.abc import Callable

# Jitter spreads the retries of many callers apart; it needs no unpredictability.
_jitter = random.Random()  # noqa: S311 - jitter, not a secret


def delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    floor: float = 0.0,
    rng: Callable[[], float] = _jitter.random,
) -> float:
    """Seconds to wait after the `attempt`-th failure (1-based).

    The ceiling doubles from `base` up to `cap`; the wait is uniform in [floor * ceiling, ceiling):
    `floor=0` is "full jitter" (callers that may retry at once), `floor=0.5` "equal jitter" (work
    that must not come back sooner than half the ceiling, such as redeliveries).
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be within [0, 1], got {floor}")
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling * (floor + (1.0 - floor) * rng())
