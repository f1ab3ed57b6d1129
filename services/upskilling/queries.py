"""Read-only queries of the upskilling connector, each in one tenant-scoped transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from services.kit.connectors import cells
from services.kit.connectors.listings import PageQuery, Position, read_page
from services.kit.connectors.queries import ImportQueries, platform_id
from services.kit.errors import FieldViolation, NotFound
from services.upskilling.domain.commands import GetCredential, GetProgress, ListCredentials, ListProgress
from services.upskilling.domain.errors import CredentialNotFound, ImportNotFound, InvalidRequest, ProgressNotFound
from services.upskilling.domain.model import Credential, Progress
from services.upskilling.repository import Filters, UpskillingRepository, UpskillingUnitOfWork

T = TypeVar("T")
IMPORTS = ImportQueries(invalid=InvalidRequest, not_found=ImportNotFound)
get_import = IMPORTS.get_import
list_imports = IMPORTS.list_imports
get_import_errors = IMPORTS.get_import_errors


def get_progress(query: GetProgress, *, uow: UpskillingUnitOfWork) -> Progress:
    """One progress record of the caller's company."""
    return _PROGRESS.one(query.company_id, query.progress_id, uow=uow)


def list_progress(query: ListProgress, *, uow: UpskillingUnitOfWork) -> tuple[list[Progress], str]:
    """A page of progress records, most recently updated first, and the next page's token."""
    status = query.status.value if query.status else ""
    return _PROGRESS.page(query, replace(_person(query), provider=query.provider, status=status), uow=uow)


def get_credential(query: GetCredential, *, uow: UpskillingUnitOfWork) -> Credential:
    """One credential of the caller's company."""
    return _CREDENTIALS.one(query.company_id, query.credential_id, uow=uow)


def list_credentials(query: ListCredentials, *, uow: UpskillingUnitOfWork) -> tuple[list[Credential], str]:
    """A page of credentials, newest first, and the next page's token."""
    credential_type = query.credential_type.value if query.credential_type else ""
    return _CREDENTIALS.page(query, replace(_person(query), credential_type=credential_type), uow=uow)


@dataclass(frozen=True)
class _Records(Generic[T]):
    """One kind of learning record as the reads reach it: `get` by its id (`key`), `find` a page under filters
    ordered newest first by `position`; `listing` names the listing its page tokens are bound to."""

    listing: str
    key: str
    what: str
    missing: type[NotFound]
    get: Callable[[UpskillingRepository, str], T | None]
    find: Callable[[UpskillingRepository, Filters, Position | None, int], list[T]]
    position: Callable[[T], Position]

    def one(self, company_id: str, record_id: str, *, uow: UpskillingUnitOfWork) -> T:
        """The company's record with this id (a platform id, made canonical first), or `missing` naming it."""
        checked = platform_id(record_id, self.key, invalid=InvalidRequest)
        with uow.read(company_id=company_id) as repo:
            record = self.get(repo, checked)
        if record is None:
            raise self.missing(f"{self.what} not found", metadata={self.key: checked})
        return record

    def page(self, query: PageQuery, filters: Filters, *, uow: UpskillingUnitOfWork) -> tuple[list[T], str]:
        """A page of the records under `filters` and the next page's token (bound to the listing and filters)."""
        return read_page(
            query,
            listing=(self.listing, repr(filters)),
            uow=uow,
            find=lambda repo, start, size: self.find(repo, filters, start, size),
            position=self.position,
            invalid=InvalidRequest,
        )


_PROGRESS = _Records[Progress](
    "progress",
    "progress_id",
    "progress record",
    ProgressNotFound,
    get=lambda repo, progress_id: repo.get_progress(progress_id),
    find=lambda repo, filters, start, size: repo.list_progress(filters, after=start, size=size),
    position=lambda record: (record.updated_at, record.progress_id),
)
_CREDENTIALS = _Records[Credential](
    "credentials",
    "credential_id",
    "credential",
    CredentialNotFound,
    get=lambda repo, credential_id: repo.get_credential(credential_id),
    find=lambda repo, filters, start, size: repo.list_credentials(filters, after=start, size=size),
    position=lambda credential: (credential.issued_at, credential.credential_id),
)


def _person(query: ListProgress | ListCredentials) -> Filters:
    """The filters by person both listings take: the profile id checked (and made canonical), the e-mail
    normalised; empty ones do not filter."""
    profile_id = platform_id(query.profile_id, "profile_id", invalid=InvalidRequest) if query.profile_id else ""
    return Filters(profile_id=profile_id, email=_email(query.email))


def _email(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return cells.email(value.strip())
    except cells.FieldInvalid:
        raise InvalidRequest(
            "email is invalid", violations=[FieldViolation("email", "is not an e-mail address")]
        ) from None
