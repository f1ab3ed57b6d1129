"""The background worker of data-subject requests, one task in the gateway process.

Each run takes the requests whose next attempt is due (state is in the database, so a restarted
gateway resumes where it stopped), asks every pending service at once, and records each answer in
its own transaction: a confirmation, a postponement with back-off when the service could not be
reached, or a refusal. The gateway's own part runs once every other service confirmed; in an erasure it
begins with the secure erase of the subject's messages from the event streams (services/gateway/dsr/
streams.py), and NATS being unreachable postpones it with the same back-off. An erasure naming only a
profile id first reads the subject's e-mail from the profile service (before that service erases them),
so the streams are searched for it too; it is kept sealed in the request until the gateway's part. A receipt
wakes the worker at once; otherwise it looks again every `interval` seconds. Stopping waits for the
run in progress (cancelled after STOP_GRACE_SECONDS); an interrupted part is asked again on resumption,
which is safe: export is a read and erasure of an already erased subject finds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from services.gateway import handlers, queries
from services.gateway.domain import privacy as dsr
from services.gateway.dsr import bundle
from services.gateway.dsr.services import Refused, SubjectService, Unanswered
from services.gateway.dsr.streams import StreamEraser
from services.gateway.repository import GatewayUnitOfWork
from services.kit import backoff
from services.kit.background import BackgroundTask
from services.kit.clock import Clock, utc_now
from services.kit.logs import get_logger

log = get_logger(__name__)
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    """How often to look for due requests, the back-off of an unreachable service, requests per run."""

    interval: float = 1.0
    retry_base: float = 1.0
    retry_max: float = 300.0
    batch: int = 20
    # How long one round may hold a request before another gateway process may take it over (a round asks
    # every due service at once, each call bounded by its own deadline).
    lease: float = 300.0


@dataclass(frozen=True)
class _Result:
    service: str
    answer: dsr.Answer | None = None
    records: dict[str, object] | None = None
    unanswered: str = ""
    refused: str = ""


class PrivacyWorker(BackgroundTask):
    """Drives data-subject requests until each completes or fails."""

    def __init__(
        self,
        *,
        uow: GatewayUnitOfWork,
        services: Mapping[str, SubjectService],
        settings: WorkerSettings = WorkerSettings(),
        clock: Clock = utc_now,
        streams: StreamEraser | None = None,
    ) -> None:
        super().__init__(name="gateway-privacy-worker", grace_seconds=STOP_GRACE_SECONDS)
        self.uow, self.services, self.settings, self.clock = uow, dict(services), settings, clock
        # None: no NATS is configured, so no event of the subject was ever published.
        self.streams = streams
        self.runs = 0
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()

    @property
    def service_names(self) -> tuple[str, ...]:
        """The services whose parts every new request gets (the gateway's own is added last)."""
        return tuple(name for name in dsr.SERVICES if name in self.services)

    def wake(self) -> None:
        """A request arrived: run now rather than at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        """Stops after the run in progress (cancelled after STOP_GRACE_SECONDS), then closes the channels to
        the services."""
        self._wake.set()  # the loop sees `stopping` at once rather than after its interval
        await super().stop()
        for service in self.services.values():
            await service.close()

    async def run_once(self) -> int:
        """Drives every request whose next attempt is due; returns how many it drove."""
        due = await asyncio.to_thread(
            queries.runnable_requests, now=self.clock(), limit=self.settings.batch, uow=self.uow
        )
        for request_id in due:
            if self.stopping:
                break
            await self.drive(request_id)
        return len(due)

    async def drive(self, request_id: str) -> dsr.PrivacyRequest | None:
        """Asks every due part of one request, round after round, until none is due now; None when another
        gateway process drives it. The lease is renewed every round and given up at the end."""
        request = await self._claim(request_id)
        try:
            if request is not None:
                request = await self._rounds(request)
        finally:
            await asyncio.to_thread(handlers.release_privacy_request, request_id, owner=self.owner, uow=self.uow)
        return request

    async def _claim(self, request_id: str) -> dsr.PrivacyRequest | None:
        lease = timedelta(seconds=self.settings.lease)
        return await asyncio.to_thread(
            handlers.start_privacy_request, request_id, owner=self.owner, lease=lease, uow=self.uow, clock=self.clock
        )

    async def _rounds(self, request: dsr.PrivacyRequest) -> dsr.PrivacyRequest:
        request_id = request.request_id
        while not request.settled and not self.stopping:
            parts = request.next_parts(self.clock())
            if not parts or await self._claim(request_id) is None:
                break
            if parts == [dsr.GATEWAY]:
                request = await self._own(request)
                continue
            results = await asyncio.gather(*(self._ask(request, name) for name in parts))
            for result in results:
                request = await asyncio.to_thread(self._record, request, result)
                if request.settled:
                    break
        if request.settled:
            log.info("privacy.request_settled", request_id=request_id, status=request.status.value)
        return request

    async def _ask(self, request: dsr.PrivacyRequest, name: str) -> _Result:
        service = self.services.get(name)
        if service is None:
            return _Result(name, unanswered=f"{name} is not configured in TEEI_PRIVACY_SERVICES")
        try:
            if request.kind is dsr.RequestKind.EXPORT:
                exported = await service.export(request.subject)
                return _Result(name, answer=exported.answer, records=exported.records)
            subject = request.subject
            if name == dsr.PROFILE and not subject.email:
                subject = await self._named(request, service)
            return _Result(name, answer=await service.erase(subject, request.request_id))
        except Unanswered as exc:
            return _Result(name, unanswered=str(exc))
        except Refused as exc:
            return _Result(name, refused=str(exc))

    def _record(self, request: dsr.PrivacyRequest, result: _Result) -> dsr.PrivacyRequest:
        rid, name = request.request_id, result.service
        if result.answer is not None:
            section = None if result.records is None else bundle.section(name, result.records)
            return handlers.confirm_part(rid, name, result.answer, section=section, uow=self.uow, clock=self.clock)
        if result.refused:
            log.warning("privacy.part_refused", request_id=rid, service=name, error=result.refused)
            return handlers.refuse_part(rid, name, result.refused, uow=self.uow, clock=self.clock)
        attempts = request.outcome(name).attempts + 1
        pause = backoff.delay(attempts, base=self.settings.retry_base, cap=self.settings.retry_max, floor=0.5)
        retry_at = self.clock() + timedelta(seconds=pause)
        log.warning("privacy.part_postponed", request_id=rid, service=name, attempts=attempts, error=result.unanswered)
        return handlers.postpone_part(rid, name, result.unanswered, retry_at=retry_at, uow=self.uow, clock=self.clock)

    async def _named(self, request: dsr.PrivacyRequest, profile: SubjectService) -> dsr.DataSubject:
        """The subject of an erasure named by profile id only, with the e-mail the profile service holds for
        them, kept (sealed) in the request before that service erases them; as it was when it knows none."""
        exported = await profile.export(request.subject)
        email = _email_of(exported.records, request.subject.profile_id)
        if not email:
            return request.subject
        named = await asyncio.to_thread(handlers.name_subject, request.request_id, email, uow=self.uow)
        return replace(request.subject, email=named.subject.email)

    async def _own(self, request: dsr.PrivacyRequest) -> dsr.PrivacyRequest:
        """The gateway's part; in an erasure, the subject's messages leave the event streams first (NATS
        unreachable: the part is postponed, the e-mail still kept for the next attempt)."""
        if request.kind is dsr.RequestKind.EXPORT:
            return await asyncio.to_thread(handlers.export_own_part, request.request_id, uow=self.uow, clock=self.clock)
        stream_messages = None
        if self.streams is not None:
            try:
                stream_messages = dict(await self.streams.erase(request.subject))
            except Unanswered as exc:
                return await asyncio.to_thread(self._record, request, _Result(dsr.GATEWAY, unanswered=str(exc)))
        return await asyncio.to_thread(
            handlers.erase_own_part,
            request.request_id,
            uow=self.uow,
            clock=self.clock,
            stream_messages=stream_messages,
        )

    async def _loop(self) -> None:
        while not self.stopping:
            self._wake.clear()
            await self._run_logged()
            self.runs += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.interval)

    async def _run_logged(self) -> None:
        try:
            await self.run_once()
        except Exception:  # a failing database must not end the worker: the next run tries again
            log.exception("privacy.worker_run_failed")


def _email_of(records: Mapping[str, object], profile_id: str) -> str:
    """The e-mail of the profile `profile_id` among the profile service's exported records; "" without one."""
    profiles = records.get("profiles")
    if not isinstance(profiles, list):
        return ""
    for row in profiles:
        if isinstance(row, dict) and row.get("profile_id") == profile_id and isinstance(row.get("email"), str):
            return str(row["email"])
    return ""
