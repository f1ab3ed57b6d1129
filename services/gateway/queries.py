"""The read side: the key ring and the machine clients as operators list them; data-subject requests
as their requesters and company admins see them, and the export bundle of a completed export while it
is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.gateway.domain import privacy as dsr
from services.gateway.domain.clients import Client
from services.gateway.domain.errors import PrivacyBundleExpired, PrivacyRequestNotFound, PrivacyRequestNotVisible
from services.gateway.domain.keys import SigningKey
from services.gateway.domain.privacy import PrivacyRequest, RequestKind, RequestStatus
from services.gateway.dsr import bundle
from services.gateway.repository import GatewayUnitOfWork, RequestFilter
from services.kit.clock import Clock, utc_now


@dataclass(frozen=True)
class Viewer:
    """Who asks: their company, their token subject, and whether they see every request of the company
    (company admins) or only the ones they made themselves."""

    company_id: str
    subject: str
    sees_company: bool


def list_keys(*, uow: GatewayUnitOfWork) -> list[SigningKey]:
    """Every key, newest first."""
    with uow.read() as repo:
        return repo.keys.all()


def list_clients(company_id: str, *, uow: GatewayUnitOfWork) -> list[Client]:
    """The clients of one company, by id."""
    with uow.read() as repo:
        return repo.clients.list(company_id=company_id)


def runnable_requests(*, now: datetime, limit: int, uow: GatewayUnitOfWork) -> list[str]:
    """Ids of the unsettled requests whose next attempt is due."""
    with uow.read() as repo:
        return repo.privacy_requests.runnable(now=now, limit=limit)


@dataclass(frozen=True)
class RequestView:
    """A request as listed: when its export bundle is deleted (None: not a completed export, or kept until an
    erasure) and whether it is gone already, in which case the request reads as expired."""

    request: PrivacyRequest
    bundle_expires_at: datetime | None = None
    bundle_expired: bool = False


def get_privacy_request(
    request_id: str,
    viewer: Viewer,
    *,
    uow: GatewayUnitOfWork,
    kept_for: timedelta | None = None,
    clock: Clock = utc_now,
) -> tuple[PrivacyRequest, dict[str, Any] | None]:
    """The request and, for a completed export, its bundle; another company's request, or another
    person's for a caller who sees only their own, is not found (its existence is not revealed, the refusal is
    audited as a denial). An export
    whose bundle is no longer kept (`kept_for` after completion, or dropped by an erasure) is refused with
    PrivacyBundleExpired, never answered with an empty bundle."""
    with uow.read() as repo:
        request = repo.privacy_requests.get(request_id)
        if request is None:
            raise PrivacyRequestNotFound("no such privacy request", metadata={"request_id": request_id})
        if not _visible(request, viewer):
            raise PrivacyRequestNotVisible(
                "no such privacy request",
                metadata={"request_id": request_id},
                resource=f"privacy_request:{request_id}",
                tenant=request.subject.company_id,
            )
        if not _has_bundle(request):
            return request, None
        expires_at = dsr.bundle_expires_at(request, kept_for)
        if expires_at is not None and clock() >= expires_at:
            raise _expired(request, expires_at)
        sections = repo.privacy_requests.sections(request_id)
    if not sections:
        raise _dropped(request, expires_at)
    assert request.completed_at is not None
    return request, bundle.build(request, sections, generated_at=request.completed_at)


def list_privacy_requests(
    viewer: Viewer,
    *,
    kind: RequestKind | None,
    status: RequestStatus | None,
    after: tuple[datetime, str] | None,
    limit: int,
    uow: GatewayUnitOfWork,
    bundle_expired: bool | None = None,
    kept_for: timedelta | None = None,
    clock: Clock = utc_now,
) -> list[RequestView]:
    """The viewer's requests (or their company's), newest first; `bundle_expired` keeps only the completed
    exports whose bundle is gone (True) or leaves them out (False)."""
    now = clock()
    where = RequestFilter(
        company_id=viewer.company_id,
        requested_by=None if viewer.sees_company else viewer.subject,
        kind=kind,
        status=status,
        bundle_expired=bundle_expired,
        bundle_cutoff=None if kept_for is None else now - kept_for,
    )
    with uow.read() as repo:
        found = repo.privacy_requests.matching(where, after=after, limit=limit)
        kept = repo.privacy_requests.with_sections([r.request_id for r in found if _has_bundle(r)])
    return [_view(request, kept, kept_for=kept_for, now=now) for request in found]


def _view(request: PrivacyRequest, kept: set[str], *, kept_for: timedelta | None, now: datetime) -> RequestView:
    expires_at = dsr.bundle_expires_at(request, kept_for)
    aged = expires_at is not None and now >= expires_at
    expired = _has_bundle(request) and (aged or request.request_id not in kept)
    return RequestView(request, expires_at, expired)


def _expired(request: PrivacyRequest, expires_at: datetime) -> PrivacyBundleExpired:
    assert request.completed_at is not None
    days = (expires_at - request.completed_at).days
    return PrivacyBundleExpired(
        f"the export bundle of privacy request {request.request_id} expired on {_day(expires_at)}"
        f" ({days} days after the export completed): make a new export request for the data",
        metadata={"request_id": request.request_id, "expired_at": expires_at.isoformat()},
    )


def _dropped(request: PrivacyRequest, expires_at: datetime | None) -> PrivacyBundleExpired:
    due = "" if expires_at is None else f" before its expiry on {_day(expires_at)}"
    return PrivacyBundleExpired(
        f"the export bundle of privacy request {request.request_id} is no longer kept: it was deleted{due}"
        " (an erasure of the person deletes their export bundles)",
        metadata={"request_id": request.request_id},
    )


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _visible(request: PrivacyRequest, viewer: Viewer) -> bool:
    if request.subject.company_id != viewer.company_id:
        return False
    return viewer.sees_company or request.requested_by == viewer.subject


def _has_bundle(request: PrivacyRequest) -> bool:
    return request.kind is RequestKind.EXPORT and request.status is RequestStatus.COMPLETED
