"""Full garbage collections deferred while an import runs, and the process's thresholds restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.kit.connectors.bulk import DEFERRED_FULL, deferred_full_collections


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_full_collections_wait_during_the_block_and_young_ones_keep_their_pace() -> None:
    with deferred_full_collections():
        assert gc.get_threshold() == (700, 10, DEFERRED_FULL)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_back_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), deferred_full_collections():
        raise RuntimeError("refused")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_imports_restore_the_thresholds_only_when_the_last_one_ends() -> None:
    first, second = deferred_full_collections(), deferred_full_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[2] == DEFERRED_FULL
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_young_collections_still_run_by_themselves_during_the_block() -> None:
    with deferred_full_collections():
        before = gc.get_stats()[0]["collections"]
        kept: list[list[int]] = [[] for _ in range(5_000)]  # containers: each counts toward the youngest generation
        after = gc.get_stats()[0]["collections"]
    assert len(kept) == 5_000
    assert after > before
