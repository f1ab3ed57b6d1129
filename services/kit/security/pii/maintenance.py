"""The background work of a service that seals personal fields: the online migration that seals rows
written before sealing (in batches, each its own short transaction, until none is left), and the
re-wrap of data keys still wrapped by an older KEK after `teei keys rotate --purpose pii`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from services.kit.background import BackgroundTask
from services.kit.logs import get_logger
from services.kit.security.pii.cipher import PiiCipher

log = get_logger(__name__)
STOP_GRACE_SECONDS = 10.0
# One batch of the online migration: rows sealed (0 when none is left).
SealBatch = Callable[[], int]
T = TypeVar("T")


class PiiMaintenance(BackgroundTask):
    """Seals what is left plain, then re-wraps stale data keys every `interval` seconds, until stopped."""

    def __init__(self, cipher: PiiCipher, seal_batch: SealBatch | None, *, interval: float) -> None:
        super().__init__(name="pii-maintenance", grace_seconds=STOP_GRACE_SECONDS)
        self._cipher = cipher
        self._seal_batch = seal_batch
        self._interval = interval
        self.sealed = self.rewrapped = 0

    def run_once(self) -> tuple[int, int]:
        """One round: seal every plain row left, then re-wrap every stale data key; what each did."""
        sealed = rewrapped = 0
        while self._seal_batch is not None and (n := self._seal_batch()):
            sealed += n
        # Once nothing is left plain it stays so (new rows are always sealed): no more scans for it.
        self._seal_batch = None
        while n := self._cipher.keys.rewrap():
            rewrapped += n
        self.sealed, self.rewrapped = self.sealed + sealed, self.rewrapped + rewrapped
        if sealed:
            log.info("pii.rows_sealed", rows=sealed)
        return sealed, rewrapped

    async def _loop(self) -> None:
        while not self.stopping:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception as exc:  # the next round retries; reads and writes go on meanwhile
                log.warning("pii.maintenance_failed", error=type(exc).__name__, detail=str(exc)[:200])
            if await self.pause(self._interval):
                return


def in_turn(parts: Sequence[T], step: Callable[[T, int], int], batch: int) -> int:
    """One batch of the online migration over `parts` in order: `step` does up to the given number of rows of
    one part and says how many it did; each part gets what is left of `batch`, and once it is full the
    parts after are not touched. The number of rows done."""
    done = 0
    for part in parts:
        done += step(part, batch - done)
        if done >= batch:
            break
    return done
