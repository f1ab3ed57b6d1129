"""One function per command: parse → load → call the domain → write state, batch and events in one
unit of work (the only place that commits). Reads live in queries.py."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from services.kintell import wire
from services.kintell.domain import schemas, webhooks
from services.kintell.domain.batch import plan_import
from services.kintell.domain.commands import ImportSessions, ReceiveWebhook
from services.kintell.domain.errors import DeliveryConflict, InvalidWebhook, SessionNotFound
from services.kintell.domain.model import Change, Channel, Provenance, Rating, Session, WebhookAck
from services.kintell.repository import KintellRepository, KintellUnitOfWork
from services.kit.connectors import imports
from services.kit.connectors.csvimport import Parsed, RowError
from services.kit.errors import FieldViolation
from services.kit.messaging import events

Clock = Callable[[], datetime]
SOURCE = "teei/kintell"


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


def import_sessions(command: ImportSessions, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> imports.Batch:
    """Stores the valid rows, quarantines the rest and records the batch, all or nothing."""
    parsed = schemas.parse(command.data)
    rows = [(row.number, schemas.facts_of(parsed.schema, row.values)) for row in parsed.valid]
    origin = Provenance(Channel.CSV_IMPORT, clock())
    with uow.begin(company_id=command.company_id) as repo:
        stored = repo.sessions_by_external_id([facts.external_session_id for _, facts in rows])
        plan = plan_import(company_id=command.company_id, rows=rows, stored=stored, provenance=origin)
        _quarantine(parsed, plan.conflicts)
        batch = repo.record_batch(parsed=parsed, data=command.data, stored=plan.stored)
        plan = plan.from_batch(batch.batch_id)
        repo.add_sessions(plan.created)
        repo.update_sessions(plan.updated)
        repo.record_events([_announcement(session, completed) for session, completed in plan.news()])
    return batch


def _quarantine(parsed: Parsed, conflicts: Sequence[RowError]) -> None:
    by_row = {error.row: error for error in conflicts}
    if not by_row:
        return
    moved = [row for row in parsed.valid if row.number in by_row]
    parsed.valid = [row for row in parsed.valid if row.number not in by_row]
    parsed.invalid = sorted(
        parsed.invalid + [type(row)(row.number, row.raw, row.values, (by_row[row.number],)) for row in moved],
        key=lambda row: row.number,
    )


def receive_session_completed(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> WebhookAck:
    """Applies a session-completed delivery once; emits `kintell.session.completed` when it is news."""
    return _receive_session(command, webhooks.session_completed(command.body), "session-completed", uow, clock)


def receive_booking_confirmed(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> WebhookAck:
    """Applies a booking-confirmed delivery once; emits `kintell.session.scheduled` for a new session.

    A booking of a session already known (rescheduled, or completed meanwhile) updates what changed
    and announces nothing: a completed session never goes back to scheduled."""
    return _receive_session(command, webhooks.booking_confirmed(command.body), "booking-confirmed", uow, clock)


def _receive_session(
    command: ReceiveWebhook, delivery: webhooks.SessionDelivery, kind: str, uow: KintellUnitOfWork, clock: Clock
) -> WebhookAck:
    delivery_id = _delivery_id(command, delivery.delivery_id)
    origin = Provenance(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    facts = delivery.facts
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, command.body, delivery_id, kind, origin.received_at):
            return WebhookAck(delivery_id, duplicate=True)
        stored = repo.sessions_by_external_id([facts.external_session_id]).get(facts.external_session_id)
        if stored is None:
            session = Session.first_report(company_id=command.company_id, facts=facts, provenance=origin)
            repo.add_sessions([session])
            repo.record_events([_announcement(session, facts.completed_at is not None)])
            return WebhookAck(delivery_id)
        session, change = stored.absorb(facts, origin)
        if change is not Change.UNCHANGED:
            repo.update_sessions([session])
        if change is Change.COMPLETED:
            repo.record_events([_announcement(session, completed=True)])
    return WebhookAck(delivery_id)


def receive_rating_created(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> WebhookAck:
    """Stores a rating of a known session once; emits `kintell.rating.created`.

    A rating of a session not stored yet is refused (NOT_FOUND) without recording the delivery,
    so the provider's retry succeeds once the session has arrived. A rating id already stored
    (delivered again under another delivery id) is acknowledged as a duplicate."""
    delivery, received = webhooks.rating_created(command.body), clock()
    report, delivery_id = delivery.report, _delivery_id(command, delivery.delivery_id)
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, command.body, delivery_id, "rating-created", received):
            return WebhookAck(delivery_id, duplicate=True)
        rated = repo.sessions_by_external_id([report.external_session_id]).get(report.external_session_id)
        if rated is None:
            raise SessionNotFound(
                f"session {report.external_session_id} is not known yet",
                metadata={"external_session_id": report.external_session_id},
            )
        if report.external_rating_id and repo.rating_by_external_id(report.external_rating_id):
            return WebhookAck(delivery_id, duplicate=True)
        rating = Rating(
            rating_id=str(uuid.uuid4()),
            company_id=command.company_id,
            session_id=rated.session_id,
            external_rating_id=report.external_rating_id,
            rater_role=report.rater_role,
            rating=report.rating,
            feedback_text=report.feedback_text,
            given_at=report.given_at or received,
            provenance=Provenance(Channel.WEBHOOK, received, delivery_id=delivery_id),
        )
        repo.add_rating(rating)
        envelope = _event(wire.rating_created(rating, rated), command.company_id, rating.rating_id)
        repo.record_events([envelope])
    return WebhookAck(delivery_id)


def _delivery_id(command: ReceiveWebhook, in_body: str) -> str:
    if command.delivery_id or in_body:
        return command.delivery_id or in_body
    raise InvalidWebhook(
        "an unsigned delivery must name its delivery_id",
        violations=[FieldViolation("delivery_id", "is required without a signed webhook-id")],
    )


def _replayed(repo: KintellRepository, body: bytes, delivery_id: str, kind: str, at: datetime) -> bool:
    digest = hashlib.sha256(body).hexdigest()
    seen = repo.claim_delivery(delivery_id=delivery_id, kind=kind, body_sha256=digest, at=at)
    if seen is None:
        return False
    if seen != digest:
        raise DeliveryConflict(
            "this webhook-id was already received with a different body",
            metadata={"delivery_id": delivery_id},
            violations=[FieldViolation("webhook-id", "already used for another payload")],
        )
    return True


def _announcement(session: Session, completed: bool) -> events.Envelope:
    payload = wire.session_completed(session) if completed else wire.session_scheduled(session)
    return _event(payload, session.company_id, session.session_id)


def _event(payload: object, company_id: str, subject: str) -> events.Envelope:
    return events.new_event(payload, source=SOURCE, tenant=company_id, subject=subject)  # type: ignore[arg-type]
