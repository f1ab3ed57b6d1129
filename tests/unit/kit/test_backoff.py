"""The mesh's one back-off: doubling ceiling, cap, and jitter within [floor * ceiling, ceiling)."""

from __future__ import annotations

import pytest

from services.kit import backoff


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.05), (2, 0.1), (3, 0.2), (10, 1.0)])
def test_full_jitter_spans_zero_to_the_doubling_capped_ceiling(attempt: int, ceiling: float) -> None:
    assert backoff.delay(attempt, base=0.05, cap=1.0, rng=lambda: 0.0) == 0.0
    assert backoff.delay(attempt, base=0.05, cap=1.0, rng=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert 0.0 <= backoff.delay(attempt, base=0.05, cap=1.0) < ceiling


def test_equal_jitter_never_waits_less_than_half_the_ceiling() -> None:
    assert backoff.delay(3, base=1.0, cap=60.0, floor=0.5, rng=lambda: 0.0) == 2.0
    assert backoff.delay(3, base=1.0, cap=60.0, floor=0.5, rng=lambda: 0.999999) == pytest.approx(4.0, rel=1e-5)
    assert backoff.delay(30, base=1.0, cap=60.0, floor=0.5, rng=lambda: 0.0) == 30.0


@pytest.mark.parametrize(("attempt", "floor"), [(0, 0.0), (1, -0.1), (1, 1.5)])
def test_nonsense_arguments_are_refused(attempt: int, floor: float) -> None:
    with pytest.raises(ValueError, match=r"attempt|floor"):
        backoff.delay(attempt, base=1.0, cap=2.0, floor=floor)
