"""Read-only queries of the upskilling connector, each in one tenant-scoped transaction."""

from __future__ import annotations

from services.kit.connectors import cells
from services.kit.connectors.listings import read_page
from services.kit.connectors.queries import ImportQueries, platform_id
from services.kit.errors import FieldViolation
from services.upskilling.domain.commands import GetCredential, GetProgress, ListCredentials, ListProgress
from services.upskilling.domain.errors import CredentialNotFound, ImportNotFound, InvalidRequest, ProgressNotFound
from services.upskilling.domain.model import Credential, Progress
from services.upskilling.repository import Filters, UpskillingUnitOfWork

IMPORTS = ImportQueries(invalid=InvalidRequest, not_found=ImportNotFound)
get_import = IMPORTS.get_import
list_imports = IMPORTS.list_imports
get_import_errors = IMPORTS.get_import_errors


def get_progress(query: GetProgress, *, uow: UpskillingUnitOfWork) -> Progress:
    """One progress record of the caller's company."""
    progress_id = platform_id(query.progress_id, "progress_id", invalid=InvalidRequest)
    with uow.read(company_id=query.company_id) as repo:
        record = repo.get_progress(progress_id)
    if record is None:
        raise ProgressNotFound("progress record not found", metadata={"progress_id": progress_id})
    return record


def list_progress(query: ListProgress, *, uow: UpskillingUnitOfWork) -> tuple[list[Progress], str]:
    """A page of progress records, most recently updated first, and the next page's token."""
    filters = Filters(
        profile_id=_profile_id(query.profile_id),
        email=_email(query.email),
        provider=query.provider,
        status=query.status.value if query.status else "",
    )
    return read_page(
        query,
        listing=("progress", repr(filters)),
        uow=uow,
        find=lambda repo, start, size: repo.list_progress(filters, after=start, size=size),
        position=lambda record: (record.updated_at, record.progress_id),
        invalid=InvalidRequest,
    )


def get_credential(query: GetCredential, *, uow: UpskillingUnitOfWork) -> Credential:
    """One credential of the caller's company."""
    credential_id = platform_id(query.credential_id, "credential_id", invalid=InvalidRequest)
    with uow.read(company_id=query.company_id) as repo:
        record = repo.get_credential(credential_id)
    if record is None:
        raise CredentialNotFound("credential not found", metadata={"credential_id": credential_id})
    return record


def list_credentials(query: ListCredentials, *, uow: UpskillingUnitOfWork) -> tuple[list[Credential], str]:
    """A page of credentials, newest first, and the next page's token."""
    filters = Filters(
        profile_id=_profile_id(query.profile_id),
        email=_email(query.email),
        credential_type=query.credential_type.value if query.credential_type else "",
    )
    return read_page(
        query,
        listing=("credentials", repr(filters)),
        uow=uow,
        find=lambda repo, start, size: repo.list_credentials(filters, after=start, size=size),
        position=lambda credential: (credential.issued_at, credential.credential_id),
        invalid=InvalidRequest,
    )


def _profile_id(value: str) -> str:
    return platform_id(value, "profile_id", invalid=InvalidRequest) if value else ""


def _email(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return cells.email(value.strip())
    except cells.FieldInvalid:
        raise InvalidRequest(
            "email is invalid", violations=[FieldViolation("email", "is not an e-mail address")]
        ) from None
