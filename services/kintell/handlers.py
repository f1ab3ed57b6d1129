"""One function per command: parse → load → call the domain → write state, batch and events in one
unit of work (the only place that commits). Reads live in queries.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.kintell.domain import csv_schemas, webhooks
from services.kintell.domain.batch import plan_import
from services.kintell.domain.commands import ImportSessions, ReceiveWebhook
from services.kintell.domain.errors import DeliveryConflict, InvalidWebhook, SessionNotFound
from services.kintell.domain.events import RatingCreated, SessionCompleted, first_sighting
from services.kintell.domain.model import Change, Rating, Session
from services.kintell.repository import KintellRepository, KintellUnitOfWork
from services.kit.clock import Clock, utc_now
from services.kit.connectors import deliveries, imports
from services.kit.connectors.bulk import deferred_full_collections
from services.kit.connectors.deliveries import Ack
from services.kit.connectors.model import Channel, Provenance


def import_sessions(command: ImportSessions, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> imports.Batch:
    """Stores the valid rows, quarantines the rest and records the batch, all or nothing."""
    with deferred_full_collections():
        return _import_sessions(command, uow, clock)


def _import_sessions(command: ImportSessions, uow: KintellUnitOfWork, clock: Clock) -> imports.Batch:
    parsed = csv_schemas.parse(command.data)
    rows = [(row.number, row.record.facts()) for row in parsed.valid]
    origin = Provenance(Channel.CSV_IMPORT, clock())
    with uow.begin(company_id=command.company_id) as repo:
        stored = repo.sessions_by_external_id([facts.external_session_id for _, facts in rows])
        plan = plan_import(company_id=command.company_id, rows=rows, stored=stored, provenance=origin)
        parsed = parsed.quarantine({error.row: [error] for error in plan.conflicts})
        batch = repo.imports.record(kind="kintell_sessions", parsed=parsed, data=command.data, stored=plan.stored)
        repo.audit.append(imports.imported(batch))
        plan = plan.from_batch(batch.batch_id)
        repo.add_sessions(plan.created)
        repo.update_sessions(plan.updated)
        repo.emit(list(plan.news()))
    return batch


def receive_session_completed(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> Ack:
    """Applies a session-completed delivery once; emits `kintell.session.completed` when it is news."""
    delivery = webhooks.session_completed(command.body)
    return _receive_session(command, delivery, "session-completed", uow, clock)


def receive_booking_confirmed(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> Ack:
    """Applies a booking-confirmed delivery once; emits `kintell.session.scheduled` for a new session.

    A booking of a session already known (rescheduled, or completed meanwhile) updates what changed
    and announces nothing: a completed session never goes back to scheduled."""
    delivery = webhooks.booking_confirmed(command.body)
    return _receive_session(command, delivery, "booking-confirmed", uow, clock)


def _receive_session(
    command: ReceiveWebhook, delivery: webhooks.BookingConfirmed, kind: str, uow: KintellUnitOfWork, clock: Clock
) -> Ack:
    delivery_id = deliveries.delivery_id(command.delivery_id, delivery.delivery_id, invalid=InvalidWebhook)
    origin = Provenance(Channel.WEBHOOK, clock(), delivery_id=delivery_id)
    facts = delivery.session.facts()
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, command, delivery_id, kind, origin.received_at):
            return Ack(delivery_id, duplicate=True)
        stored = repo.sessions_by_external_id([facts.external_session_id]).get(facts.external_session_id)
        if stored is None:
            session = Session.first_report(company_id=command.company_id, facts=facts, provenance=origin)
            repo.add_sessions([session])
            repo.emit([first_sighting(session)])
            return Ack(delivery_id)
        session, change = stored.absorb(facts, origin)
        if change is not Change.UNCHANGED:
            repo.update_sessions([session])
        if change is Change.COMPLETED:
            repo.emit([SessionCompleted(session)])
    return Ack(delivery_id)


def receive_rating_created(command: ReceiveWebhook, *, uow: KintellUnitOfWork, clock: Clock = utc_now) -> Ack:
    """Stores a rating of a known session once; emits `kintell.rating.created`.

    A rating of a session not stored yet is refused (NOT_FOUND) without recording the delivery,
    so the provider's retry succeeds once the session has arrived. A rating id already stored
    (delivered again under another delivery id) is acknowledged as a duplicate."""
    delivery, received = webhooks.rating_created(command.body), clock()
    report = delivery.rating
    delivery_id = deliveries.delivery_id(command.delivery_id, delivery.delivery_id, invalid=InvalidWebhook)
    with uow.begin(company_id=command.company_id) as repo:
        if _replayed(repo, command, delivery_id, "rating-created", received):
            return Ack(delivery_id, duplicate=True)
        rated = repo.sessions_by_external_id([report.session_id]).get(report.session_id)
        if rated is None:
            raise SessionNotFound(
                f"session {report.session_id} is not known yet", metadata={"external_session_id": report.session_id}
            )
        if report.rating_id and repo.rating_by_external_id(report.rating_id):
            return Ack(delivery_id, duplicate=True)
        rating = Rating(
            rating_id=str(uuid.uuid4()),
            company_id=command.company_id,
            session_id=rated.session_id,
            external_rating_id=report.rating_id,
            rater_role=report.rater_role,
            rating=report.rating,
            feedback_text=report.feedback_text,
            given_at=report.created_at or received,
            provenance=Provenance(Channel.WEBHOOK, received, delivery_id=delivery_id),
        )
        repo.add_rating(rating)
        repo.emit([RatingCreated(rating, rated)])
    return Ack(delivery_id)


def _replayed(repo: KintellRepository, command: ReceiveWebhook, delivery_id: str, kind: str, at: datetime) -> bool:
    digest = deliveries.digest(command.body)
    seen = repo.claim_delivery(delivery_id=delivery_id, kind=kind, body_sha256=digest, at=at)
    return deliveries.replayed(seen, digest, delivery_id, conflict=DeliveryConflict)
