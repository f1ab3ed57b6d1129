"""A service's background task: started once with the server, in a fresh context (no RPC's caller,
principal or deadline leaks into it), and stopped after the round in progress, or cancelled when that
takes longer than the grace period. The PII maintenance, Q2Q's screening retrier and the gateway's
privacy worker are such tasks; each writes only its `_loop`."""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC, abstractmethod


class BackgroundTask(ABC):
    """Runs `_loop` from `start()` until `stop()`; `_loop` checks `stopping` and waits with `pause`."""

    def __init__(self, *, name: str, grace_seconds: float) -> None:
        self._name, self._grace = name, grace_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called: a round ends at its next step."""
        return self._stopping.is_set()

    def start(self) -> None:
        """Starts the task once (a no-op when running or stopped), in a fresh context."""
        if self._task is None and not self._stopping.is_set():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._loop(), name=self._name, context=contextvars.Context())

    async def stop(self) -> None:
        """Stops after the round in progress; cancels it after the grace period."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._grace)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def pause(self, seconds: float) -> bool:
        """Waits up to `seconds`, returning early (True) once stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @abstractmethod
    async def _loop(self) -> None:
        """The task's body: rounds until `stopping`."""
