"""One function per command: validate → load → call the domain → commit (one unit of work each)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from services.kit.connectors import csvimport, imports
from services.kit.connectors.csvimport import RowError
from services.kit.errors import FieldViolation
from services.upskilling.domain import csv_schemas, paging, payload, providers
from services.upskilling.domain.commands import (
    GetCredential,
    GetImport,
    GetProgress,
    ImportRecords,
    ListCredentials,
    ListImports,
    ListProgress,
    ReceiveWebhook,
)
from services.upskilling.domain.errors import CredentialNotFound, ImportNotFound, InvalidRequest, ProgressNotFound
from services.upskilling.domain.model import (
    Channel,
    Credential,
    CredentialReport,
    Progress,
    ProgressReport,
    Provider,
    Source,
)
from services.upskilling.domain.progress import Outcome, apply_credential, apply_progress
from services.upskilling.repository import Filters, SqlUpskillingRepository, UpskillingUnitOfWork

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ack:
    """A webhook acknowledgement: the delivery's webhook-id, and whether it was a replay."""

    delivery_id: str
    duplicate: bool


def receive_webhook(command: ReceiveWebhook, *, uow: UpskillingUnitOfWork, clock: Clock = utc_now) -> Ack:
    """Validates and normalises a delivery, then stores it and its events once per (company, provider,
    webhook-id). A report that would move a record backwards is acknowledged, not applied; the delivery
    keeps the reason."""
    provider = parse_provider(command.provider)
    delivery = providers.normalise(provider, payload.load(command.body))
    delivery_id = command.delivery_id or delivery.event_id
    digest = hashlib.sha256(command.body).hexdigest()
    source = Source(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    with uow.begin(company_id=command.company_id) as repo:
        claimed = repo.claim_delivery(
            provider, delivery_id, event_type=delivery.event_type, digest=digest, at=source.received_at
        )
        if not claimed:
            return Ack(delivery_id, duplicate=True)
        outcomes = [_apply(repo, report, source) for report in (delivery.progress, delivery.credential) if report]
        reasons = "; ".join(o.ignored for o in outcomes if o.ignored)
        changed = any(o.store is not None for o in outcomes)
        outcome = "ignored" if reasons and not changed else "applied" if changed else "unchanged"
        repo.settle_delivery(provider, delivery_id, outcome=outcome, reason=reasons)
    return Ack(delivery_id, duplicate=False)


def parse_provider(name: str) -> Provider:
    """The provider named in the request path (also the webhook source whose secrets sign its deliveries)."""
    try:
        return Provider(name)
    except ValueError:
        raise InvalidRequest(
            f"unknown provider {name[:40]!r}",
            violations=[FieldViolation("provider", "must be one of ecornell, itslearning, generic")],
        ) from None


def _apply(
    repo: SqlUpskillingRepository, report: ProgressReport | CredentialReport, source: Source
) -> Outcome[Progress] | Outcome[Credential]:
    outcome = (
        _apply_progress(repo, report, source)
        if isinstance(report, ProgressReport)
        else _apply_credential(repo, report, source)
    )
    for event in outcome.events:
        repo.emit(event)
    return outcome


def _apply_progress(repo: SqlUpskillingRepository, report: ProgressReport, source: Source) -> Outcome[Progress]:
    existing = repo.find_progress(report.course, report.learner)
    outcome = apply_progress(existing, report, company_id=repo.company_id, source=source)
    if outcome.store is not None:
        repo.save_progress(outcome.store, new=existing is None)
    return outcome


def _apply_credential(repo: SqlUpskillingRepository, report: CredentialReport, source: Source) -> Outcome[Credential]:
    existing = repo.find_credential(report.course, report.key)
    outcome = apply_credential(existing, report, company_id=repo.company_id, source=source)
    if outcome.store is not None:
        repo.save_credential(outcome.store, new=existing is None)
    return outcome


def import_records(command: ImportRecords, *, uow: UpskillingUnitOfWork, clock: Clock = utc_now) -> imports.Batch:
    """Imports a CSV file: the batch, its quarantined rows, every stored record and its events in one
    transaction. A row identical to the stored record changes nothing; a changed row updates it and
    raises events only for a state transition."""
    schemas = csv_schemas.SCHEMAS.get(command.kind)
    if schemas is None:
        raise InvalidRequest(
            f"unknown import kind {command.kind[:40]!r}",
            violations=[FieldViolation("kind", f"must be one of {', '.join(csv_schemas.SCHEMAS)}")],
        )
    parsed = csv_schemas.checked(csvimport.parse(command.data, schemas), command.kind)
    read_row = csv_schemas.ROW_READERS[command.kind]
    with uow.begin(company_id=command.company_id) as repo:
        batch: imports.Batch = repo.record_batch(
            kind=command.kind, parsed=parsed, data=command.data, stored=len(parsed.valid)
        )
        source = Source(Channel.CSV_IMPORT, clock(), batch_id=batch.batch_id)
        for row in parsed.valid:
            _apply(repo, read_row(row.values), source)
    return batch


def get_import(query: GetImport, *, uow: UpskillingUnitOfWork) -> imports.Batch:
    """One import batch of the caller's company."""
    batch_id = _uuid(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        batch: imports.Batch | None = repo.get_batch(batch_id)
    if batch is None:
        raise ImportNotFound("import batch not found", metadata={"batch_id": batch_id})
    return batch


def get_import_errors(query: GetImport, *, uow: UpskillingUnitOfWork) -> list[RowError]:
    """The errors of one batch's quarantined rows, in row order."""
    batch_id = _uuid(query.batch_id, "batch_id")
    with uow.begin(company_id=query.company_id) as repo:
        if repo.get_batch(batch_id) is None:
            raise ImportNotFound("import batch not found", metadata={"batch_id": batch_id})
        errors: list[RowError] = repo.row_errors(batch_id)
    return errors


def list_imports(query: ListImports, *, uow: UpskillingUnitOfWork) -> tuple[list[imports.Batch], str]:
    """A page of batches, newest first, and the next page's token."""
    fingerprint = paging.fingerprint(("imports", query.company_id))
    page = paging.decode(query.page_token, query=fingerprint, size=paging.page_size(query.page_size))
    with uow.begin(company_id=query.company_id) as repo:
        batches: list[imports.Batch] = repo.list_batches(page)
    return _paged(batches, page, fingerprint, lambda b: (b.created_at, b.batch_id))


def get_progress(query: GetProgress, *, uow: UpskillingUnitOfWork) -> Progress:
    """One progress record of the caller's company."""
    progress_id = _uuid(query.progress_id, "progress_id")
    with uow.begin(company_id=query.company_id) as repo:
        record: Progress | None = repo.get_progress(progress_id)
    if record is None:
        raise ProgressNotFound("progress record not found", metadata={"progress_id": progress_id})
    return record


def list_progress(query: ListProgress, *, uow: UpskillingUnitOfWork) -> tuple[list[Progress], str]:
    """A page of progress records, most recently updated first, and the next page's token."""
    filters = Filters(
        profile_id=_uuid(query.profile_id, "profile_id") if query.profile_id else "",
        email=_email(query.email),
        provider=query.provider,
        status=query.status.value if query.status else "",
    )
    fingerprint = paging.fingerprint(("progress", query.company_id, filters))
    page = paging.decode(query.page_token, query=fingerprint, size=paging.page_size(query.page_size))
    with uow.begin(company_id=query.company_id) as repo:
        records: list[Progress] = repo.list_progress(filters, page)
    return _paged(records, page, fingerprint, lambda p: (p.updated_at, p.progress_id))


def get_credential(query: GetCredential, *, uow: UpskillingUnitOfWork) -> Credential:
    """One credential of the caller's company."""
    credential_id = _uuid(query.credential_id, "credential_id")
    with uow.begin(company_id=query.company_id) as repo:
        record: Credential | None = repo.get_credential(credential_id)
    if record is None:
        raise CredentialNotFound("credential not found", metadata={"credential_id": credential_id})
    return record


def list_credentials(query: ListCredentials, *, uow: UpskillingUnitOfWork) -> tuple[list[Credential], str]:
    """A page of credentials, newest first, and the next page's token."""
    filters = Filters(
        profile_id=_uuid(query.profile_id, "profile_id") if query.profile_id else "",
        email=_email(query.email),
        credential_type=query.credential_type.value if query.credential_type else "",
    )
    fingerprint = paging.fingerprint(("credentials", query.company_id, filters))
    page = paging.decode(query.page_token, query=fingerprint, size=paging.page_size(query.page_size))
    with uow.begin(company_id=query.company_id) as repo:
        records: list[Credential] = repo.list_credentials(filters, page)
    return _paged(records, page, fingerprint, lambda c: (c.issued_at, c.credential_id))


def _paged(
    rows: list[T], page: paging.Page, fingerprint: str, position: Callable[[T], tuple[datetime, str]]
) -> tuple[list[T], str]:
    if len(rows) <= page.size:
        return rows, ""
    rows = rows[: page.size]
    when, ident = position(rows[-1])
    return rows, paging.encode(query=fingerprint, after_time=when.isoformat(), after_id=ident)


def _uuid(value: str, field_name: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest(
            f"{field_name} is not a valid id", violations=[FieldViolation(field_name, "must be a UUID")]
        ) from None


def _email(value: str) -> str:
    if not value.strip():
        return ""
    try:
        return csvimport.email(value.strip())
    except csvimport.FieldInvalid:
        raise InvalidRequest(
            "email is invalid", violations=[FieldViolation("email", "is not an e-mail address")]
        ) from None
