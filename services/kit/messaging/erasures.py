"""The `privacy.subject.erased` consumer of every service holding personal data: once the gateway reports a
person erased everywhere, each service erases again whatever it re-learnt about them since its own part ran
(an event still in flight, an import finishing concurrently: profile ids are derived from company and e-mail,
so a record re-created about the same person carries the same id).

The sweep is the erasure the EraseSubjectData RPC runs (services/kit/grpc/subjects.py), by profile id, in the
event's company only, inside the bus's transaction (the inbox records the event with it): a second delivery
is not applied, and a sweep that finds nothing erases nothing. Logs carry counts, never the person's ids."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import sqlalchemy as sa
from google.protobuf import message
from sqlalchemy import orm

from services.kit import tenants
from services.kit.audit.records import Actor, ActorKind, AuditEntry
from services.kit.audit.trail import SqlAuditTrail
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.logs import get_logger
from services.kit.messaging import events
from services.kit.persistence import subjects
from teei.events.v1 import envelope_pb2
from teei.gateway.v1 import events_pb2 as gateway_events

log = get_logger(__name__)
EVENT_TYPE = "privacy.subject.erased"


@dataclasses.dataclass(frozen=True)
class Swept:
    """One sweep: whom it named (company and profile id), for which privacy request, and what it did."""

    company_id: str
    profile_id: str
    privacy_request_id: str
    erasure: subjects.Erasure


# The audit entry of a sweep, for a service whose audit log records its erasures.
SweepAudit = Callable[[Swept], AuditEntry]


def consumer_name(service: str) -> str:
    """The durable consumer of the event in `service`."""
    return f"{service}-privacy-subject-erased"


def actor(service: str) -> Actor:
    """Whom a sweep is attributed to: the service itself, acting on the gateway's event."""
    return Actor(ActorKind.SYSTEM, f"{service}:erased-subjects")


def subscription(mapping: subjects.SubjectMap, *, audit: SweepAudit | None = None) -> events.Subscription:
    """The service's durable consumer of `privacy.subject.erased`, erasing by its subject map."""

    def handler(envelope: envelope_pb2.Envelope, session: orm.Session) -> None:
        sweep(envelope, session, mapping=mapping, audit=audit)

    return events.Subscription(consumer_name(mapping.service), (EVENT_TYPE,), handler)


def sweep(
    envelope: envelope_pb2.Envelope,
    session: orm.Session,
    *,
    mapping: subjects.SubjectMap,
    audit: SweepAudit | None = None,
) -> Swept:
    """Erases what the service holds about the event's person in the event's company, in the caller's
    transaction; the audit entry (when the service audits erasures) is appended when anything was erased."""
    swept = _named(envelope)
    subjects.zero_freed_cells(session)
    who = subjects.Subject(swept.company_id, profile_id=swept.profile_id)
    swept = dataclasses.replace(swept, erasure=subjects.erase(session, mapping, who))
    if audit is not None and swept.erasure.erased:
        entry = dataclasses.replace(audit(swept), actor=actor(mapping.service))
        SqlAuditTrail(session).append(entry)
    if swept.erasure.erased:
        _forget_old_pages_after_commit(session, swept.erasure)
    log.info(
        "privacy.subject.swept",
        service=mapping.service,
        privacy_request_id=swept.privacy_request_id,
        event_id=envelope.id,
        found=swept.erasure.found,
        erased=swept.erasure.erased,
        tables=len(swept.erasure.tables),
    )
    return swept


def _named(envelope: envelope_pb2.Envelope) -> Swept:
    """The event's company, person and request; a malformed event names no one (and is dead-lettered)."""
    if not tenants.is_tenant(envelope.tenant):
        raise _malformed("tenant", "malformed")
    try:
        payload = events.payload_of(envelope)
    except (ValueError, KeyError, message.DecodeError) as exc:
        raise _malformed("data", f"cannot be read: {type(exc).__name__}") from None
    if not isinstance(payload, gateway_events.SubjectErased):
        raise _malformed("data", f"expected {gateway_events.SubjectErased.DESCRIPTOR.full_name}")
    profile_id = payload.profile_id.strip()
    if not profile_id or profile_id != payload.profile_id:
        raise _malformed("data.profile_id", "required, without surrounding spaces")
    if envelope.subject != profile_id:
        raise _malformed("subject", "must be the payload's profile id")
    return Swept(envelope.tenant, profile_id, payload.privacy_request_id, subjects.Erasure())


def _malformed(field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{EVENT_TYPE} event is malformed", violations=[FieldViolation(field, problem)])


def _forget_old_pages_after_commit(session: orm.Session, erasure: subjects.Erasure) -> None:
    """Once the bus's transaction commits, old row images go as the RPC's erasure lets them go. On a thread of
    its own: at `after_commit` the session still holds its connection (after a SAVEPOINT, SQLite's still in a
    transaction until the session closes), which SQLite's truncating checkpoint would wait on until its busy
    timeout."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, sa.Engine) else bind.engine

    def forget() -> None:
        try:
            subjects.forget_old_pages(engine, erasure)
        except Exception:  # the erasure is committed; old pages go with the next checkpoint or vacuum
            log.warning("privacy.subject.old_pages_kept", tables=len(erasure.tables), exc_info=True)

    def start(_: orm.Session) -> None:
        threading.Thread(target=forget, name="forget-old-pages", daemon=True).start()

    sa.event.listen(session, "after_commit", start, once=True)
