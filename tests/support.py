"""Helpers for tests that run real processes: line readers that let a test wait without sleeping."""

from __future__ import annotations

import json
import queue
import threading
from typing import IO


class LineReader:
    """Reads a process's output on a thread; `wait_for` blocks until a matching line arrives."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._reader.start()

    def _pump(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self._lines.put(line.rstrip("\n"))

    def wait_for_text(self, needle: str, timeout: float = 60.0) -> str:
        """The first unread line containing `needle`."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} within {timeout}s; saw {self.seen[-20:]}") from None
            self.seen.append(line)
            if needle in line:
                return line

    def wait_for(self, event: str, timeout: float = 30.0, **fields: object) -> dict[str, object]:
        """The first unread JSON log record of `event` whose fields match."""
        while True:
            line = self.wait_for_text(f'"event": "{event}"', timeout)
            record: dict[str, object] = json.loads(line)
            if all(record.get(k) == v for k, v in fields.items()):
                return record

    def close(self) -> None:
        """Waits for the reader to reach the end of the stream (the process has exited)."""
        self._reader.join(10)
