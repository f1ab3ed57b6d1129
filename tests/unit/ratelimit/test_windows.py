"""Fixed windows: every instant falls in exactly one window per unit, keys tell windows and descriptors apart."""

from __future__ import annotations

import pytest

from services.ratelimit.domain.limits import Unit
from services.ratelimit.domain.query import Descriptor
from services.ratelimit.domain.windows import Window, counter_key
from tests.unit.ratelimit.support import EPOCH


@pytest.mark.parametrize(
    ("offset", "unit", "start", "until_reset"),
    [
        (0.0, Unit.SECOND, 0, 1.0),
        (0.25, Unit.SECOND, 0, 0.75),
        (59.999, Unit.MINUTE, 0, 0.001),
        (60.0, Unit.MINUTE, 60, 60.0),
        (3599.5, Unit.HOUR, 0, 0.5),
        (86_399.0, Unit.DAY, 0, 1.0),
        (86_400.0, Unit.DAY, 86_400, 86_400.0),
    ],
)
def test_window_of_an_instant_and_time_until_it_resets(
    offset: float, unit: Unit, start: int, until_reset: float
) -> None:
    window = Window.at(EPOCH + offset, unit)
    assert window.start == EPOCH + start
    assert window.end == window.start + unit.seconds
    assert window.until_reset(EPOCH + offset) == pytest.approx(until_reset, abs=1e-6)


def test_until_reset_never_goes_negative() -> None:
    window = Window.at(EPOCH, Unit.SECOND)
    assert window.until_reset(EPOCH + 5) == 0.0


def test_keys_differ_per_window_unit_domain_and_descriptor() -> None:
    tenant = Descriptor(entries=(("tenant", "acme"),))
    now = Window.at(EPOCH, Unit.MINUTE)
    keys = {
        counter_key("teei", tenant, now),
        counter_key("teei", tenant, Window.at(EPOCH + 60, Unit.MINUTE)),
        counter_key("teei", tenant, Window.at(EPOCH, Unit.SECOND)),
        counter_key("other", tenant, now),
        counter_key("teei", Descriptor(entries=(("tenant", "acme2"),)), now),
    }
    assert len(keys) == 5
    assert counter_key("teei", tenant, Window.at(EPOCH + 59.9, Unit.MINUTE)) == counter_key("teei", tenant, now)


def test_separators_inside_values_cannot_make_two_descriptors_share_a_counter() -> None:
    now = Window.at(EPOCH, Unit.MINUTE)
    joined = Descriptor(entries=(("a", 'b"],["c'),))
    split = Descriptor(entries=(("a", "b"), ("c", "")))
    pipes = Descriptor(entries=(("a|b", "c"),))
    other = Descriptor(entries=(("a", "b|c"),))
    assert len({counter_key("d", d, now) for d in (joined, split, pipes, other)}) == 4
