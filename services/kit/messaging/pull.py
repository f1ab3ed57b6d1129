"""A durable pull consumer's message pump: pull requests sent to one inbox, whatever they deliver.

The client library's `fetch()` ties each delivery to the request that asked for it and waits out a
request's whole expiry when a message is routed to an older, still-open request (a race it does not
close). Here every request replies to the same inbox and every message that reaches it is handed
out, whichever request it answers; one request is kept open at a time and re-sent once it is
answered in full, ends (404/408/409 status) or passes its expiry. A message is therefore never
waiting in the client while the consumer waits on the server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nats.aio.msg import Msg
from nats.js import api as js_api

# How long one pull request stays open on the server. A message published meanwhile is sent at once;
# the length only bounds how long a request lost with a dropped connection goes unnoticed.
PULL_EXPIRES_SECONDS = 5.0
# Head-room after a request's expiry before it is taken for lost (its 408 status may be in flight).
_EXPIRY_MARGIN_SECONDS = 0.5


class Puller:
    """Pulls batches for one durable consumer; `next_batch` returns as soon as anything arrived."""

    def __init__(
        self, nc: Any, *, stream: str, consumer: str, batch: int, expires_seconds: float = PULL_EXPIRES_SECONDS
    ) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._batch = batch
        self._expires_seconds = expires_seconds
        self.inbox: str = nc.new_inbox()  # where every pull request of this pump is answered
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._sub: Any = None
        self._owed = 0  # messages the open request may still deliver
        self._open_until = 0.0  # monotonic time after which the open request is taken for lost

    async def start(self) -> None:
        """Subscribes the inbox every pull request replies to."""
        self._sub = await self._nc.subscribe(self.inbox, cb=self._queue.put)

    async def close(self) -> None:
        """Unsubscribes the inbox; messages not yet handed out are redelivered after their ack wait."""
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def next_batch(self, *, wait_seconds: float) -> list[Msg]:
        """Up to `batch` messages: waits at most `wait_seconds` for the first, takes what else is
        already here. Returns an empty list when nothing arrived."""
        await self._keep_a_request_open()
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return []
        messages = self._accept([first])
        while len(messages) < self._batch and not self._queue.empty():
            messages += self._accept([self._queue.get_nowait()])
        return messages

    def _accept(self, arrived: list[Msg]) -> list[Msg]:
        """Keeps the messages and books what each status says about the open request."""
        kept = []
        for msg in arrived:
            status = (msg.headers or {}).get(js_api.Header.STATUS)
            if status is None:
                self._owed -= 1
                kept.append(msg)
            elif status != "100":  # 404 no messages, 408 expired, 409 cut short: the request is over
                self._owed = 0
        return kept

    async def _keep_a_request_open(self) -> None:
        if self._owed > 0 and time.monotonic() < self._open_until:
            return
        request = {"batch": self._batch, "expires": int(self._expires_seconds * 1_000_000_000)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self.inbox)
        self._owed = self._batch
        self._open_until = time.monotonic() + self._expires_seconds + _EXPIRY_MARGIN_SECONDS
