"""One function per command: load → call the domain → commit (one unit of work).

Records seen again (same Buddy id, in a later file or delivery) keep their platform id: identical
content is a no-op (counted as stored), changed content updates the record and emits nothing, and
a change of who the record is about (people, match, attendees) is refused as a conflict. Only a new
record emits its event, so a replay never counts twice downstream.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.buddy import outbound
from services.buddy.domain import paging, records
from services.buddy.domain.commands import (
    GetImport,
    GetRecord,
    ImportRecords,
    ListImports,
    ListRecords,
    ReceiveWebhook,
    RecordFilter,
)
from services.buddy.domain.errors import (
    BuddyError,
    DeliveryConflict,
    ImportNotFound,
    InvalidBuddyRequest,
    RecordNotFound,
)
from services.buddy.domain.model import Channel, Match, Provenance, Record
from services.buddy.domain.records import Change, Intake
from services.buddy.domain.specs import RecordSpec, spec_for
from services.buddy.domain.webhooks import parse_delivery
from services.buddy.repository import BuddyUnitOfWork, SqlBuddyRepository
from services.kit.connectors import csvimport, imports
from services.kit.connectors.csvimport import Parsed, Row, RowError
from services.kit.errors import FieldViolation

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """Size limits of inbound payloads."""

    csv_bytes: int = 10 * 1024 * 1024
    webhook_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Ack:
    """What a webhook delivery did: its id, and whether it was a replay that stored nothing."""

    delivery_id: str
    duplicate: bool


@dataclass(frozen=True)
class Staged:
    """A record ready to store, what storing it does, and its match (for the event)."""

    record: Record
    change: Change
    match: Match | None


def import_records(
    command: ImportRecords, *, uow: BuddyUnitOfWork, clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS
) -> imports.Batch:
    """Stores the valid rows of a CSV export, quarantines the rest, and records the batch, atomically."""
    spec = spec_for(command.kind)
    parsed = csvimport.parse(command.data, [spec.csv_schema], max_bytes=limits.csv_bytes)
    intake = Intake(command.company_id, Provenance(Channel.CSV_IMPORT, clock()))
    with uow.begin(company_id=command.company_id) as repo:
        staged: list[Staged] = []
        kept, rejected = [], list(parsed.invalid)
        for row in parsed.valid:
            try:
                staged.append(_stage(repo, spec, row.values, intake))
                kept.append(row)
            except BuddyError as exc:
                rejected.append(_quarantined(row, exc))
        outcome = Parsed(parsed.schema, valid=kept, invalid=rejected)
        batch: imports.Batch = repo.record_batch(kind=spec.kind, parsed=outcome, data=command.data, stored=len(staged))
        for item in staged:
            origin = replace(item.record.provenance, batch_id=batch.batch_id)
            _store(repo, replace(item, record=replace(item.record, provenance=origin)), batch.batch_id)
    return batch


def _quarantined(row: Row, exc: BuddyError) -> Row:
    violations = exc.violations or (FieldViolation("*", exc.message),)
    errors = tuple(RowError(row.number, v.field, v.description, row.raw.get(v.field, "")[:200]) for v in violations)
    return Row(row.number, row.raw, row.values, errors)


def receive_webhook(
    command: ReceiveWebhook, *, uow: BuddyUnitOfWork, clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS
) -> Ack:
    """Stores the record of one verified delivery; a replayed webhook-id stores and emits nothing."""
    spec = spec_for(command.kind)
    delivery = parse_delivery(spec, command.body, max_bytes=limits.webhook_bytes)
    digest, delivery_id = hashlib.sha256(command.body).hexdigest(), _delivery_id(command, delivery.delivery_id)
    origin = Provenance(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, delivery_id, digest):
            return Ack(delivery_id, duplicate=True)
        try:
            staged = _stage(repo, spec, delivery.values, Intake(command.company_id, origin))
        except BuddyError as exc:
            raise _in_data(exc) from None
        claim = {"kind": spec.kind, "delivery_id": delivery_id, "digest": digest}
        if not repo.claim_delivery(**claim, record_id=staged.record.record_id, at=origin.received_at):
            _replayed(repo, delivery_id, digest)  # a concurrent twin won; refuse if it differed
            return Ack(delivery_id, duplicate=True)
        _store(repo, staged, delivery_id)
    return Ack(delivery_id, duplicate=False)


def _delivery_id(command: ReceiveWebhook, in_body: str) -> str:
    if command.delivery_id or in_body:
        return command.delivery_id or in_body
    raise InvalidBuddyRequest(
        "an unsigned delivery must name its delivery_id",
        violations=[FieldViolation("delivery_id", "is required without a signed webhook-id")],
    )


def _replayed(repo: SqlBuddyRepository, delivery_id: str, digest: str) -> bool:
    stored = repo.delivery_digest(delivery_id)
    if stored is not None and stored != digest:
        raise DeliveryConflict(
            "this webhook-id was already received with a different payload",
            metadata={"delivery_id": delivery_id},
            violations=[FieldViolation("webhook-id", "already used for a different payload")],
        )
    return stored is not None


def _in_data(exc: BuddyError) -> BuddyError:
    violations = [FieldViolation(f"data.{v.field}", v.description) for v in exc.violations]
    return type(exc)(exc.message, metadata=exc.metadata, violations=violations)


def _stage(repo: SqlBuddyRepository, spec: RecordSpec, values: dict[str, Any], intake: Intake) -> Staged:
    match = _match_of(repo, spec, values)
    incoming = records.BUILDERS[spec.kind](values, intake, match)
    record, change = records.reconcile(repo.get_by_external_id(spec.kind, incoming.external_id), incoming)
    return Staged(record, change, match)


def _match_of(repo: SqlBuddyRepository, spec: RecordSpec, values: dict[str, Any]) -> Match | None:
    external_id = values.get(spec.match_field) if spec.match_field else None
    if not external_id:
        return None
    match = repo.get_by_external_id("matches", external_id)
    if not isinstance(match, Match):
        raise records.unknown_match(external_id)
    return match


def _store(repo: SqlBuddyRepository, staged: Staged, correlation_id: str) -> None:
    if staged.change is Change.CREATED:
        repo.add(staged.record)
        repo.emit(outbound.created(staged.record, staged.match, correlation_id=correlation_id))
    elif staged.change is Change.UPDATED:
        repo.replace(staged.record)


def get_record(query: GetRecord, *, uow: BuddyUnitOfWork) -> Record:
    """One record of the caller's company."""
    spec = spec_for(query.kind)
    record_id = _uuid(query.record_id, spec.key)
    with uow.begin(company_id=query.company_id) as repo:
        record: Record | None = repo.get(spec.kind, record_id)
    if record is None:
        raise RecordNotFound(f"{spec.key.removesuffix('_id')} not found", metadata={spec.key: record_id})
    return record


def list_records(query: ListRecords, *, uow: BuddyUnitOfWork) -> tuple[list[Record], str]:
    """A page of records, newest first, and the token of the next page ('' on the last)."""
    spec = spec_for(query.kind)
    where = _checked_filter(query.filter)
    page = paging.page(query.page_size, query.page_token)
    with uow.begin(company_id=query.company_id) as repo:
        found: list[Record] = repo.find(spec.kind, where, page)
    return _paged(found, page, lambda r: paging.Cursor(r.occurred_at, r.record_id))


def _checked_filter(where: RecordFilter) -> RecordFilter:
    """The filter with ids validated (profile id made canonical) and the e-mail normalised."""
    if where.match_id:
        _uuid(where.match_id, "match_id")
    since, before = where.since, where.before
    if since is not None and before is not None and since >= before:
        raise InvalidBuddyRequest(
            "end_time must be after start_time", violations=[FieldViolation("end_time", "must be after start_time")]
        )
    profile_id = _uuid(where.profile_id, "profile_id") if where.profile_id else ""
    return replace(where, email=where.email.strip().lower(), profile_id=profile_id)


def _paged(found: list[T], page: paging.Page, cursor: Callable[[T], paging.Cursor]) -> tuple[list[T], str]:
    if len(found) <= page.size:
        return found, ""
    items = found[: page.size]
    return items, paging.encode(cursor(items[-1]))


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidBuddyRequest(
            f"{field} is not a valid id", violations=[FieldViolation(field, "must be a UUID")]
        ) from None


def get_import(query: GetImport, *, uow: BuddyUnitOfWork) -> imports.Batch:
    """One import batch of the caller's company."""
    batch_id = _uuid(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        return _batch(repo, batch_id)


def get_import_errors(query: GetImport, *, uow: BuddyUnitOfWork) -> list[RowError]:
    """The row errors of an import batch of the caller's company."""
    batch_id = _uuid(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        errors: list[RowError] = repo.row_errors(_batch(repo, batch_id).batch_id)
    return errors


def _batch(repo: SqlBuddyRepository, batch_id: str) -> imports.Batch:
    batch = repo.get_batch(batch_id)
    if batch is None:
        raise ImportNotFound("import not found", metadata={"batch_id": batch_id})
    return batch


def list_imports(query: ListImports, *, uow: BuddyUnitOfWork) -> tuple[list[imports.Batch], str]:
    """A page of the company's import batches, newest first."""
    page = paging.page(query.page_size, query.page_token)
    with uow.begin(company_id=query.company_id) as repo:
        found: list[imports.Batch] = repo.list_batches(page)
    return _paged(found, page, lambda b: paging.Cursor(b.created_at, b.batch_id))
