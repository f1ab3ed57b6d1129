"""Read-only queries of the Kintell connector, each in one tenant-scoped transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.kintell.domain import paging
from services.kintell.domain.commands import GetImport, GetImportErrors, GetSession, ListImports, ListSessions
from services.kintell.domain.errors import ImportNotFound, InvalidRequest, SessionNotFound
from services.kintell.domain.model import Rating, Session
from services.kintell.repository import KintellUnitOfWork, SessionFilter
from services.kit.connectors import imports
from services.kit.connectors.csvimport import RowError
from services.kit.errors import FieldViolation


@dataclass(frozen=True)
class SessionPage:
    """A page of sessions with their ratings."""

    sessions: list[tuple[Session, list[Rating]]]
    next_page_token: str


@dataclass(frozen=True)
class ImportPage:
    """A page of import batches."""

    batches: list[imports.Batch]
    next_page_token: str


def get_session(query: GetSession, *, uow: KintellUnitOfWork) -> tuple[Session, list[Rating]]:
    """One session of the caller's company with its ratings."""
    session_id = valid_id(query.session_id, "session_id")
    with uow.begin(company_id=query.company_id) as repo:
        session = repo.get_session(session_id)
        if session is None:
            raise SessionNotFound("session not found", metadata={"session_id": session_id})
        return session, repo.ratings_of([session_id])[session_id]


def list_sessions(query: ListSessions, *, uow: KintellUnitOfWork) -> SessionPage:
    """A page of the caller's sessions, newest schedule first."""
    where = _session_filter(query)
    limit = paging.page_size(query.page_size)
    scope = paging.fingerprint("sessions", query.company_id, where)
    after = paging.decode(query.page_token, scope)
    with uow.begin(company_id=query.company_id) as repo:
        found = repo.list_sessions(where, after=after, limit=limit + 1)
        page = found[:limit]
        ratings = repo.ratings_of([s.session_id for s in page])
    last = page[-1] if len(found) > limit else None
    token = paging.encode(last.facts.scheduled_at, last.session_id, scope) if last else ""
    return SessionPage([(s, ratings[s.session_id]) for s in page], token)


def _session_filter(query: ListSessions) -> SessionFilter:
    if query.start_at and query.end_at and query.end_at <= query.start_at:
        raise InvalidRequest("end_time must be after start_time", violations=[FieldViolation("end_time", "<= start")])
    return SessionFilter(
        session_type=query.session_type,
        status=query.status,
        participant_email=query.participant_email.strip().lower(),
        volunteer_email=query.volunteer_email.strip().lower(),
        profile_id=valid_id(query.profile_id, "profile_id") if query.profile_id else "",
        start_at=query.start_at,
        end_at=query.end_at,
    )


def get_import(query: GetImport, *, uow: KintellUnitOfWork) -> imports.Batch:
    """One import batch of the caller's company."""
    batch_id = valid_id(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        batch = repo.get_batch(batch_id)
    if batch is None:
        raise ImportNotFound("import batch not found", metadata={"batch_id": batch_id})
    return batch


def list_imports(query: ListImports, *, uow: KintellUnitOfWork) -> ImportPage:
    """A page of the caller's import batches, newest first."""
    limit = paging.page_size(query.page_size)
    scope = paging.fingerprint("imports", query.company_id)
    after = paging.decode(query.page_token, scope)
    with uow.begin(company_id=query.company_id) as repo:
        found = repo.list_batches(after=after, limit=limit + 1)
    page = found[:limit]
    last = page[-1] if len(found) > limit else None
    return ImportPage(page, paging.encode(last.created_at, last.batch_id, scope) if last else "")


def get_import_errors(query: GetImportErrors, *, uow: KintellUnitOfWork) -> list[RowError]:
    """The row errors of one import batch of the caller's company, in row order."""
    batch_id = valid_id(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        if repo.get_batch(batch_id) is None:
            raise ImportNotFound("import batch not found", metadata={"batch_id": batch_id})
        return repo.batch_errors(batch_id)


def valid_id(value: str, field: str) -> str:
    """A platform id (UUID); anything else is a malformed request, not a missing record."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        violation = FieldViolation(field, "must be a UUID")
        raise InvalidRequest(f"{field} is not a valid id", violations=[violation]) from None
