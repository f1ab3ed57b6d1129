"""The erasure's step for the events JetStream still stores: every message of the events and dead-letter
streams that is the company's and names the subject (their e-mail or profile id) is securely erased
(services/kit/messaging/scrub.py), over a short-lived NATS connection per erasure. The worker runs it after
every other service confirmed and before the gateway forgets the subject's e-mail; it is safe to repeat (a
second run finds nothing), so NATS being unreachable only postpones the gateway's part."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import nats

from services.gateway.domain.privacy import DataSubject
from services.gateway.dsr.services import Unanswered
from services.gateway.operations.link import NatsLink
from services.kit.errors import Unavailable
from services.kit.messaging import scrub


class StreamEraser(Protocol):
    """Erases a subject's messages from the event streams; the messages erased per stream."""

    async def erase(self, subject: DataSubject) -> Mapping[str, int]: ...


class JetStreamEraser:
    """The secure erase on the NATS server at `url`; an unreachable server raises `Unanswered`."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._link = NatsLink(url, timeout=timeout)

    async def erase(self, subject: DataSubject) -> Mapping[str, int]:
        """Erases the messages of `subject`'s company naming their e-mail or profile id."""
        identifiers = [subject.profile_id, subject.email]
        try:
            async with self._link.jetstream() as js:
                report = await scrub.scrub_subject(js, tenant=subject.company_id, identifiers=identifiers)
        except Unavailable as exc:
            raise Unanswered(f"the event streams could not be erased: {exc.message}") from None
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise Unanswered(f"the event streams could not be erased: {type(exc).__name__}") from None
        return dict(report.erased)
