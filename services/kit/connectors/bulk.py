"""Bulk work (a CSV import) with the interpreter's full garbage collections deferred.

An import builds tens of thousands of long-lived objects (rows, records, sealed values, events) in one
request. CPython runs a full collection each time enough of them survive the younger generations, and
each full collection walks every object of the process: on a 50,000-row import that was ~18 % of its CPU.
While any import runs, full collections wait (young ones still run, so short-lived cycles are still
freed); when the last import ends the process's thresholds are restored and the next full collection
comes at its usual pace. Process-wide, so concurrent imports share one deferral (counted).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Full collections wait for this many collections of the middle generation (default 10): far more than
# one import triggers, so none runs during it.
DEFERRED_FULL = 1_000_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def deferred_full_collections() -> Iterator[None]:
    """Runs the block with full collections deferred (see the module); thresholds restored after."""
    global _active, _saved  # noqa: PLW0603 - one process-wide deferral shared by concurrent imports
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            young, middle, _ = _saved
            gc.set_threshold(young, middle, DEFERRED_FULL)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
