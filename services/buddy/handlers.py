"""One function per command: load → call the domain → commit (one unit of work). Reads live in queries.py.

Records seen again (same Buddy id, in a later file or delivery) keep their platform id: identical
content is a no-op (counted as stored), changed content updates the record and emits nothing, and
a change of who the record is about (people, match, attendees) is refused as a conflict. Only a new
record emits its event, so a replay never counts twice downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.buddy.domain.commands import ImportRecords, ReceiveWebhook
from services.buddy.domain.csv_schemas import BuddyRow, RecordSpec, spec_for
from services.buddy.domain.errors import BuddyError, DeliveryConflict, InvalidBuddyRequest
from services.buddy.domain.events import RecordCreated
from services.buddy.domain.intake import Change, Intake, build, reconcile, unknown_match
from services.buddy.domain.model import Match, Record
from services.buddy.domain.webhooks import parse_delivery
from services.buddy.repository import BuddyRepository, BuddyUnitOfWork
from services.kit.clock import Clock, utc_now
from services.kit.connectors import csvimport, deliveries, imports
from services.kit.connectors.csvimport import Parsed, RowError
from services.kit.connectors.deliveries import Ack
from services.kit.connectors.model import Channel, Provenance
from services.kit.errors import FieldViolation


@dataclass(frozen=True)
class Limits:
    """Size limits of inbound payloads."""

    csv_bytes: int = 10 * 1024 * 1024
    webhook_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Staged:
    """A record ready to store, what storing it does, and its match (for the event)."""

    record: Record
    change: Change
    match: Match | None

    def in_batch(self, batch_id: str) -> Staged:
        """The same, its record naming the import batch that carried it."""
        return replace(self, record=replace(self.record, provenance=self.record.provenance.in_batch(batch_id)))


def import_records(
    command: ImportRecords, *, uow: BuddyUnitOfWork, clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS
) -> imports.Batch:
    """Stores the valid rows of a CSV export, quarantines the rest, and records the batch, atomically."""
    spec = spec_for(command.kind)
    parsed = csvimport.parse(command.data, [spec.schema], max_bytes=limits.csv_bytes)
    intake = Intake(command.company_id, Provenance(Channel.CSV_IMPORT, clock()))
    with uow.begin(company_id=command.company_id) as repo:
        staged, refused = _stage_rows(repo, spec, parsed, intake)
        outcome = parsed.quarantine(refused)
        batch = repo.imports.record(kind=spec.kind, parsed=outcome, data=command.data, stored=len(staged))
        repo.audit.append(imports.imported(batch))
        for item in staged:
            _store(repo, item.in_batch(batch.batch_id))
    return batch


def _stage_rows(
    repo: BuddyRepository, spec: RecordSpec, parsed: Parsed[BuddyRow], intake: Intake
) -> tuple[list[Staged], dict[int, list[RowError]]]:
    staged: list[Staged] = []
    refused: dict[int, list[RowError]] = {}
    for row in parsed.valid:
        try:
            staged.append(_stage(repo, spec, row.record, intake))
        except BuddyError as exc:
            violations = exc.violations or (FieldViolation("*", exc.message),)
            refused[row.number] = csvimport.row_errors(row.number, row.raw, violations)
    return staged, refused


def receive_webhook(
    command: ReceiveWebhook, *, uow: BuddyUnitOfWork, clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS
) -> Ack:
    """Stores the record of one verified delivery; a replayed webhook-id stores and emits nothing."""
    spec = spec_for(command.kind)
    delivery = parse_delivery(spec, command.body, max_bytes=limits.webhook_bytes)
    digest = deliveries.digest(command.body)
    delivery_id = deliveries.delivery_id(command.delivery_id, delivery.delivery_id, invalid=InvalidBuddyRequest)
    origin = Provenance(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, delivery_id, digest):
            return Ack(delivery_id, duplicate=True)
        try:
            staged = _stage(repo, spec, delivery.data, Intake(command.company_id, origin))
        except BuddyError as exc:
            raise _in_data(exc) from None
        claim = {"kind": spec.kind, "delivery_id": delivery_id, "digest": digest}
        if not repo.claim_delivery(**claim, record_id=staged.record.record_id, at=origin.received_at):
            _replayed(repo, delivery_id, digest)  # a concurrent twin won; refuse if it differed
            return Ack(delivery_id, duplicate=True)
        _store(repo, staged)
    return Ack(delivery_id, duplicate=False)


def _replayed(repo: BuddyRepository, delivery_id: str, digest: str) -> bool:
    return deliveries.replayed(repo.delivery_digest(delivery_id), digest, delivery_id, conflict=DeliveryConflict)


def _in_data(exc: BuddyError) -> BuddyError:
    violations = [FieldViolation(f"data.{v.field}", v.description) for v in exc.violations]
    return type(exc)(exc.message, metadata=exc.metadata, violations=violations)


def _stage(repo: BuddyRepository, spec: RecordSpec, row: BuddyRow, intake: Intake) -> Staged:
    match = _match_of(repo, row)
    incoming = build(row, intake, match)
    record, change = reconcile(repo.get_by_external_id(spec.kind, incoming.external_id), incoming)
    return Staged(record, change, match)


def _match_of(repo: BuddyRepository, row: BuddyRow) -> Match | None:
    if not row.match_reference:
        return None
    match = repo.get_by_external_id("matches", row.match_reference)
    if not isinstance(match, Match):
        raise unknown_match(row.match_reference)
    return match


def _store(repo: BuddyRepository, staged: Staged) -> None:
    if staged.change is Change.CREATED:
        repo.add(staged.record)
        repo.emit(RecordCreated(staged.record, staged.match))
    elif staged.change is Change.UPDATED:
        repo.replace(staged.record)
