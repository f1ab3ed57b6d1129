"""Read-only queries of the buddy service, each in one tenant-scoped transaction."""

from __future__ import annotations

from dataclasses import replace

from services.buddy.domain.commands import GetRecord, ListRecords, RecordFilter
from services.buddy.domain.csv_schemas import spec_for
from services.buddy.domain.errors import ImportNotFound, InvalidBuddyRequest, RecordNotFound
from services.buddy.domain.model import Record
from services.buddy.repository import BuddyUnitOfWork
from services.kit.connectors.listings import read_page
from services.kit.connectors.queries import ImportQueries, platform_id
from services.kit.errors import FieldViolation

IMPORTS = ImportQueries(invalid=InvalidBuddyRequest, not_found=ImportNotFound)
get_import = IMPORTS.get_import
list_imports = IMPORTS.list_imports
get_import_errors = IMPORTS.get_import_errors


def get_record(query: GetRecord, *, uow: BuddyUnitOfWork) -> Record:
    """One record of the caller's company."""
    spec = spec_for(query.kind)
    record_id = platform_id(query.record_id, spec.key, invalid=InvalidBuddyRequest)
    with uow.read(company_id=query.company_id) as repo:
        record = repo.get(spec.kind, record_id)
    if record is None:
        raise RecordNotFound(f"{spec.key.removesuffix('_id')} not found", metadata={spec.key: record_id})
    return record


def list_records(query: ListRecords, *, uow: BuddyUnitOfWork) -> tuple[list[Record], str]:
    """A page of records, newest first, and the token of the next page ('' on the last)."""
    spec = spec_for(query.kind)
    where = _checked_filter(query.filter)
    return read_page(
        query,
        listing=(spec.kind, repr(where)),
        uow=uow,
        find=lambda repo, start, size: repo.find(spec.kind, where, after=start, size=size),
        position=lambda record: (record.occurred_at, record.record_id),
        invalid=InvalidBuddyRequest,
    )


def _checked_filter(where: RecordFilter) -> RecordFilter:
    """The filter with ids validated (profile id made canonical) and the e-mail normalised."""
    if where.match_id:
        platform_id(where.match_id, "match_id", invalid=InvalidBuddyRequest)
    since, before = where.since, where.before
    if since is not None and before is not None and since >= before:
        raise InvalidBuddyRequest(
            "end_time must be after start_time", violations=[FieldViolation("end_time", "must be after start_time")]
        )
    profile_id = platform_id(where.profile_id, "profile_id", invalid=InvalidBuddyRequest) if where.profile_id else ""
    return replace(where, email=where.email.strip().lower(), profile_id=profile_id)
