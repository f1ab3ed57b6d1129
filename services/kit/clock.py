"""The clocks every service injects, so tests can pin time: aware UTC datetimes, or epoch seconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
EpochClock = Callable[[], float]


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)
