"""The read side: the key ring and the machine clients as operators list them; data-subject requests
as their requesters and company admins see them, and the export bundle of a completed export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.gateway.domain.clients import Client
from services.gateway.domain.errors import PrivacyRequestNotFound
from services.gateway.domain.keys import SigningKey
from services.gateway.domain.privacy import PrivacyRequest, RequestKind, RequestStatus
from services.gateway.dsr import bundle
from services.gateway.repository import GatewayUnitOfWork, RequestFilter


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


def get_privacy_request(
    request_id: str, viewer: Viewer, *, uow: GatewayUnitOfWork
) -> tuple[PrivacyRequest, dict[str, Any] | None]:
    """The request and, for a completed export, its bundle; another company's request, or another
    person's for a caller who sees only their own, is not found (its existence is not revealed)."""
    with uow.read() as repo:
        request = repo.privacy_requests.get(request_id)
        if request is None or not _visible(request, viewer):
            raise PrivacyRequestNotFound("no such privacy request", metadata={"request_id": request_id})
        sections = repo.privacy_requests.sections(request_id) if _has_bundle(request) else []
    if not _has_bundle(request):
        return request, None
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
) -> list[PrivacyRequest]:
    """The viewer's requests (or their company's), newest first."""
    where = RequestFilter(
        company_id=viewer.company_id,
        requested_by=None if viewer.sees_company else viewer.subject,
        kind=kind,
        status=status,
    )
    with uow.read() as repo:
        return repo.privacy_requests.matching(where, after=after, limit=limit)


def _visible(request: PrivacyRequest, viewer: Viewer) -> bool:
    if request.subject.company_id != viewer.company_id:
        return False
    return viewer.sees_company or request.requested_by == viewer.subject


def _has_bundle(request: PrivacyRequest) -> bool:
    return request.kind is RequestKind.EXPORT and request.status is RequestStatus.COMPLETED
