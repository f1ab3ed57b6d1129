"""One batch of the online migration over several parts: each part gets what is left of the batch, in order,
and once the batch is full the parts after it are not touched."""

from __future__ import annotations

from services.kit.security.pii.maintenance import in_turn


def test_each_part_gets_what_is_left_and_the_parts_after_a_full_batch_are_not_touched() -> None:
    plain = {"requests": 3, "sections": 10, "clients": 4}
    asked: list[tuple[str, int]] = []

    def seal(part: str, left: int) -> int:
        asked.append((part, left))
        done = min(plain[part], left)
        plain[part] -= done
        return done

    assert in_turn(list(plain), seal, 8) == 8
    assert asked == [("requests", 8), ("sections", 5)]
    assert plain == {"requests": 0, "sections": 5, "clients": 4}


def test_a_batch_larger_than_what_is_left_runs_every_part_and_counts_what_was_done() -> None:
    asked: list[tuple[str, int]] = []

    def seal(part: str, left: int) -> int:
        asked.append((part, left))
        return 2

    assert in_turn(["a", "b", "c"], seal, 100) == 6
    assert asked == [("a", 100), ("b", 98), ("c", 96)]


def test_no_parts_do_nothing() -> None:
    assert in_turn([], lambda part, left: left, 10) == 0
