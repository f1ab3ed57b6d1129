"""Read-only queries of the Kintell connector, each in one tenant-scoped transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.kintell.domain.commands import GetSession, ListSessions, SessionFilter
from services.kintell.domain.errors import ImportNotFound, InvalidRequest, SessionNotFound
from services.kintell.domain.model import Rating, Session
from services.kintell.repository import KintellUnitOfWork
from services.kit import paging
from services.kit.connectors.listings import after, page_of
from services.kit.connectors.queries import ImportQueries, platform_id
from services.kit.errors import FieldViolation

IMPORTS = ImportQueries(invalid=InvalidRequest, not_found=ImportNotFound)
get_import = IMPORTS.get_import
list_imports = IMPORTS.list_imports
get_import_errors = IMPORTS.get_import_errors


@dataclass(frozen=True)
class SessionPage:
    """A page of sessions with their ratings."""

    sessions: list[tuple[Session, list[Rating]]]
    next_page_token: str


def get_session(query: GetSession, *, uow: KintellUnitOfWork) -> tuple[Session, list[Rating]]:
    """One session of the caller's company with its ratings."""
    session_id = platform_id(query.session_id, "session_id", invalid=InvalidRequest)
    with uow.read(company_id=query.company_id) as repo:
        session = repo.get_session(session_id)
        if session is None:
            raise SessionNotFound("session not found", metadata={"session_id": session_id})
        return session, repo.ratings_of([session_id])[session_id]


def list_sessions(query: ListSessions, *, uow: KintellUnitOfWork) -> SessionPage:
    """A page of the caller's sessions, newest schedule first."""
    where = _checked(query.filter)
    scope = ("sessions", query.company_id, repr(where))
    request = paging.page_request(query.page_size, query.page_token, scope=scope, invalid=InvalidRequest)
    with uow.read(company_id=query.company_id) as repo:
        found = repo.list_sessions(where, after=after(request, invalid=InvalidRequest), size=request.size)
        page, token = page_of(found, request, lambda s: (s.facts.scheduled_at, s.session_id))
        ratings = repo.ratings_of([s.session_id for s in page])
    return SessionPage([(s, ratings[s.session_id]) for s in page], token)


def _checked(where: SessionFilter) -> SessionFilter:
    """The filter with the profile id validated (and made canonical) and the e-mails normalised."""
    if where.start_at and where.end_at and where.end_at <= where.start_at:
        raise InvalidRequest("end_time must be after start_time", violations=[FieldViolation("end_time", "<= start")])
    return replace(
        where,
        participant_email=where.participant_email.strip().lower(),
        volunteer_email=where.volunteer_email.strip().lower(),
        profile_id=platform_id(where.profile_id, "profile_id", invalid=InvalidRequest) if where.profile_id else "",
    )
