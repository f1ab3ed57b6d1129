"""One function per command: validate → load → call the domain → commit (one unit of work each).
Reads live in queries.py."""

from __future__ import annotations

from services.kit.clock import Clock, utc_now
from services.kit.connectors import csvimport, deliveries, imports
from services.kit.connectors.deliveries import Ack
from services.kit.connectors.model import Channel, Provenance
from services.kit.errors import FieldViolation
from services.upskilling.domain import csv_schemas, webhooks
from services.upskilling.domain.commands import ImportRecords, ReceiveWebhook
from services.upskilling.domain.errors import InvalidRequest
from services.upskilling.domain.model import Credential, CredentialReport, Progress, ProgressReport, Provider
from services.upskilling.domain.progress import Outcome, apply_credential, apply_progress
from services.upskilling.repository import UpskillingRepository, UpskillingUnitOfWork


def receive_webhook(command: ReceiveWebhook, *, uow: UpskillingUnitOfWork, clock: Clock = utc_now) -> Ack:
    """Validates and normalises a delivery, then stores it and its events once per (company, provider,
    webhook-id). A report that would move a record backwards is acknowledged, not applied; the delivery
    keeps the reason."""
    provider = parse_provider(command.provider)
    delivery = webhooks.normalise(provider, command.body)
    delivery_id = command.delivery_id or delivery.event_id
    source = Provenance(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    with uow.begin(company_id=command.company_id) as repo:
        digest, at = deliveries.digest(command.body), source.received_at
        if not repo.claim_delivery(provider, delivery_id, event_type=delivery.event_type, digest=digest, at=at):
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
    repo: UpskillingRepository, report: ProgressReport | CredentialReport, source: Provenance
) -> Outcome[Progress] | Outcome[Credential]:
    outcome = (
        _apply_progress(repo, report, source)
        if isinstance(report, ProgressReport)
        else _apply_credential(repo, report, source)
    )
    for event in outcome.events:
        repo.emit(event)
    return outcome


def _apply_progress(repo: UpskillingRepository, report: ProgressReport, source: Provenance) -> Outcome[Progress]:
    existing = repo.find_progress(report.course, report.learner)
    outcome = apply_progress(existing, report, company_id=repo.company_id, source=source)
    if outcome.store is not None:
        repo.save_progress(outcome.store, new=existing is None)
    return outcome


def _apply_credential(repo: UpskillingRepository, report: CredentialReport, source: Provenance) -> Outcome[Credential]:
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
    parsed = csvimport.parse(command.data, schemas)
    with uow.begin(company_id=command.company_id) as repo:
        batch = repo.imports.record(kind=command.kind, parsed=parsed, data=command.data, stored=len(parsed.valid))
        repo.audit.append(imports.imported(batch))
        source = Provenance(Channel.CSV_IMPORT, clock(), batch_id=batch.batch_id)
        for row in parsed.valid:
            _apply(repo, row.record.report(), source)
    return batch
