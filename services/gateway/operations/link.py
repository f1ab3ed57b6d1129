"""The admin RPCs' way to JetStream: a short-lived NATS connection per call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.js import JetStreamContext

from services.kit.errors import Unavailable
from services.kit.logs import get_logger
from services.kit.messaging import eventbus

log = get_logger(__name__)
# Failures of NATS itself (not of the request): the caller may retry later.
_NATS_DOWN = (
    OSError,
    nats.errors.TimeoutError,
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)


class NatsLink:
    """A short-lived NATS connection per admin call: rare calls, and a restarted NATS needs no reconnect
    state. A missing NATS_URL or an unreachable server answers UNAVAILABLE."""

    def __init__(self, url: str | None, *, timeout: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout

    @asynccontextmanager
    async def jetstream(self) -> AsyncIterator[JetStreamContext]:
        """JetStream with the dead-letter stream in place; closed when the block ends."""
        if not self._url:
            raise Unavailable("the dead-letter stream is not configured (NATS_URL is not set)")
        try:
            async with asyncio.timeout(self._timeout):
                # Two attempts in all (0 would mean forever); the caller retries, not this process.
                nc = await nats.connect(
                    self._url,
                    connect_timeout=self._timeout,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.1,
                    error_cb=_nats_error,
                )
        except (*_NATS_DOWN, TimeoutError, nats.errors.Error) as exc:
            raise Unavailable("NATS is unreachable; retry later") from exc
        try:
            js = nc.jetstream(timeout=self._timeout)
            await eventbus.ensure_dlq_stream(js)
            yield js
        except _NATS_DOWN as exc:
            raise Unavailable("NATS did not answer; retry later") from exc
        finally:
            await nc.close()


async def _nats_error(exc: Exception) -> None:
    log.debug("operations.nats_error", error=type(exc).__name__)
