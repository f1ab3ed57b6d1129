"""Data-subject requests: a person's export or erasure, driven service by service until every one confirmed.

A request moves `received → in_progress → completed | failed`. Each personal-data service has its own
part (`ServiceOutcome`): pending until the service confirms it (`done`), or `failed` when the service
refused it for good. A service that cannot be reached stays pending and is tried again after a back-off;
the request completes only once every part is done, and fails once a part failed for good or the due
date passed with a part still unconfirmed. The gateway's own part runs last, after every other service
confirmed, because it forgets the subject's e-mail kept in the request itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.gateway.domain.errors import PrivacyRequestSettled

DUE_AFTER = timedelta(days=30)
GATEWAY = "gateway"
# The service that knows a person's e-mail by their profile id.
PROFILE = "profile"
# Every service holding personal data; the gateway (its clients and the requests themselves) comes last.
SERVICES = (PROFILE, "kintell", "buddy", "upskilling", "q2q", "safety", GATEWAY)


class RequestKind(enum.Enum):
    """What the subject asked for."""

    EXPORT = "export"
    ERASURE = "erasure"


class RequestStatus(enum.Enum):
    """Where a request stands."""

    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class PartStatus(enum.Enum):
    """Where one service's part stands."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class DataSubject:
    """The person of one company the request is about: a profile id and/or an e-mail."""

    company_id: str
    profile_id: str = ""
    email: str = ""


@dataclass(frozen=True)
class ServiceOutcome:
    """One service's part: what it found, exported, erased and kept, and how the attempts went."""

    service: str
    status: PartStatus = PartStatus.PENDING
    found: int = 0
    exported: int = 0
    erased: int = 0
    retained: int = 0
    retained_reason: str = ""
    attempts: int = 0
    error: str = ""
    next_attempt_at: datetime | None = None

    def ready(self, now: datetime) -> bool:
        """Pending and not waiting out a back-off."""
        return self.status is PartStatus.PENDING and (self.next_attempt_at is None or self.next_attempt_at <= now)


@dataclass(frozen=True)
class Answer:
    """A service's confirmation: what it found and did."""

    found: int
    exported: int = 0
    erased: int = 0
    retained: int = 0
    retained_reason: str = ""


@dataclass(frozen=True)
class PrivacyRequest:
    """One data-subject request and the part of every service."""

    request_id: str
    kind: RequestKind
    subject: DataSubject
    requested_by: str
    reason: str
    own: bool
    status: RequestStatus
    outcomes: tuple[ServiceOutcome, ...]
    created_at: datetime
    due_at: datetime
    completed_at: datetime | None = None

    @property
    def settled(self) -> bool:
        """Completed or failed: nothing more will run."""
        return self.status in (RequestStatus.COMPLETED, RequestStatus.FAILED)

    def outcome(self, service: str) -> ServiceOutcome:
        """The part of `service`."""
        return next(o for o in self.outcomes if o.service == service)

    def next_parts(self, now: datetime) -> list[str]:
        """The services to ask now: every ready part but the gateway's, which waits for all the others."""
        others = [o for o in self.outcomes if o.service != GATEWAY]
        if all(o.status is PartStatus.DONE for o in others):
            return [GATEWAY] if self.outcome(GATEWAY).ready(now) else []
        return [o.service for o in others if o.ready(now)]

    def next_attempt_at(self) -> datetime | None:
        """When the next pending part may be tried; None once settled."""
        if self.settled:
            return None
        pending = [o for o in self.outcomes if o.status is PartStatus.PENDING]
        others = [o for o in pending if o.service != GATEWAY]
        return min((o.next_attempt_at or self.created_at for o in others or pending), default=self.created_at)


def receive(
    *,
    request_id: str,
    kind: RequestKind,
    subject: DataSubject,
    requested_by: str,
    reason: str,
    own: bool,
    now: datetime,
    services: Sequence[str] = SERVICES,
) -> PrivacyRequest:
    """A new request, due 30 days after receipt, with every service's part pending."""
    return PrivacyRequest(
        request_id=request_id,
        kind=kind,
        subject=subject,
        requested_by=requested_by,
        reason=reason,
        own=own,
        status=RequestStatus.RECEIVED,
        outcomes=tuple(ServiceOutcome(service) for service in services),
        created_at=now,
        due_at=now + DUE_AFTER,
    )


def start(request: PrivacyRequest) -> PrivacyRequest:
    """received → in_progress; a running request is left as it is; a settled one is refused."""
    _refuse_settled(request)
    if request.status is RequestStatus.RECEIVED:
        return replace(request, status=RequestStatus.IN_PROGRESS)
    return request


def confirm(request: PrivacyRequest, service: str, answer: Answer, *, now: datetime) -> PrivacyRequest:
    """`service` did its part; completes the request once every part is done."""
    _refuse_settled(request)
    part = request.outcome(service)
    done = replace(
        part,
        status=PartStatus.DONE,
        found=answer.found,
        exported=answer.exported,
        erased=answer.erased,
        retained=answer.retained,
        retained_reason=answer.retained_reason,
        attempts=part.attempts + 1,
        error="",
        next_attempt_at=None,
    )
    return _settle(_with(request, done), now=now)


def postpone(request: PrivacyRequest, service: str, error: str, *, retry_at: datetime, now: datetime) -> PrivacyRequest:
    """`service` could not be reached: its part stays pending until `retry_at` (fails once overdue)."""
    _refuse_settled(request)
    part = request.outcome(service)
    waiting = replace(part, attempts=part.attempts + 1, error=error, next_attempt_at=retry_at)
    return _settle(_with(request, waiting), now=now)


def refuse(request: PrivacyRequest, service: str, error: str, *, now: datetime) -> PrivacyRequest:
    """`service` refused its part for good: the request fails once no other part is still running."""
    _refuse_settled(request)
    part = request.outcome(service)
    failed = replace(part, status=PartStatus.FAILED, attempts=part.attempts + 1, error=error, next_attempt_at=None)
    return _settle(_with(request, failed), now=now)


def bundle_expires_at(request: PrivacyRequest, kept_for: timedelta | None) -> datetime | None:
    """When the bundle of a completed export is deleted: `kept_for` after completion (the retention policy's
    `dsr_bundles`); None for any other request, or when bundles are kept until an erasure of the person."""
    exported = request.kind is RequestKind.EXPORT and request.status is RequestStatus.COMPLETED
    if not exported or request.completed_at is None or kept_for is None:
        return None
    return request.completed_at + kept_for


def confirmed_services(request: PrivacyRequest) -> list[str]:
    """The services whose part is done."""
    return [o.service for o in request.outcomes if o.status is PartStatus.DONE]


def _settle(request: PrivacyRequest, *, now: datetime) -> PrivacyRequest:
    statuses = {o.status for o in request.outcomes}
    if statuses == {PartStatus.DONE}:
        return replace(request, status=RequestStatus.COMPLETED, completed_at=now)
    if now >= request.due_at:
        return replace(request, status=RequestStatus.FAILED, completed_at=now)
    others_running = any(o.status is PartStatus.PENDING and o.service != GATEWAY for o in request.outcomes)
    if PartStatus.FAILED in statuses and not others_running:
        # The gateway's part never runs after a failure: the subject stays named until a new request.
        return replace(request, status=RequestStatus.FAILED, completed_at=now)
    return replace(request, status=RequestStatus.IN_PROGRESS)


def _with(request: PrivacyRequest, part: ServiceOutcome) -> PrivacyRequest:
    outcomes = tuple(part if o.service == part.service else o for o in request.outcomes)
    return replace(request, outcomes=outcomes)


def _refuse_settled(request: PrivacyRequest) -> None:
    if request.settled:
        raise PrivacyRequestSettled(
            "the privacy request has settled",
            metadata={"request_id": request.request_id, "status": request.status.value},
        )
