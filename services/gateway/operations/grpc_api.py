"""OperationsService servicer: the dead-letter admin RPCs of platform operators (super admins) and the
gateway's audit log.

The access rules (PERMISSION_PLATFORM_OPERATE, PERMISSION_AUDIT_LOGS_READ) are enforced by the kit's
interceptor before any method here runs; replay and purge append an audit record naming the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import nats

from services.gateway.operations import audit_wire, wire
from services.gateway.operations.link import NatsLink
from services.kit.audit.queries import AuditLogReader
from services.kit.audit.records import AuditEntry
from services.kit.audit.trail import AuditLog
from services.kit.errors import FieldViolation, InvalidArgument, NotFound
from services.kit.logs import get_logger
from services.kit.messaging import deadletters
from services.kit.security import tenancy
from teei.operations.v1 import operations_pb2, operations_pb2_grpc

log = get_logger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]


class DeadLetterNotFound(NotFound):
    """No dead letter has this sequence number (never had, replayed or purged)."""

    reason = "DEAD_LETTER_NOT_FOUND"


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    """Lists, shows, replays and purges dead letters; proto ⇄ kit `deadletters` calls, nothing else."""

    def __init__(self, *, link: NatsLink, audit: AuditLog, events: AuditLogReader) -> None:
        self._link = link
        self._audit = audit
        self._events = events
        wire.load_event_types()

    async def ListAuditEvents(
        self, request: operations_pb2.ListAuditEventsRequest, context: Context
    ) -> operations_pb2.ListAuditEventsResponse:
        caller = tenancy.current_principal()
        # Super admins read every record; anyone else holding the permission, their company's only.
        tenant = None if caller.role == "super_admin" else tenancy.current_tenant()
        page = audit_wire.list_audit_events(request, tenant=tenant)
        found = await asyncio.to_thread(self._events.newest, page.where, before=page.before, size=page.size)
        return audit_wire.list_response(found, page)

    async def ListDeadLetters(
        self, request: operations_pb2.ListDeadLettersRequest, context: Context
    ) -> operations_pb2.ListDeadLettersResponse:
        page = wire.list_dead_letters(request)
        async with self._link.jetstream() as js:
            found = await deadletters.page(
                js, start=page.start, limit=page.size, consumer=page.consumer, event_type=page.event_type
            )
        return wire.list_response(found.letters, page.next_token(found.next_sequence))

    async def GetDeadLetter(
        self, request: operations_pb2.GetDeadLetterRequest, context: Context
    ) -> operations_pb2.GetDeadLetterResponse:
        sequence = wire.required_sequence(request.sequence)
        async with self._link.jetstream() as js, addressed(sequence):
            letter = await deadletters.show(js, sequence)
        return operations_pb2.GetDeadLetterResponse(
            dead_letter=wire.to_proto(letter), envelope=wire.envelope_json(letter)
        )

    async def ReplayDeadLetter(
        self, request: operations_pb2.ReplayDeadLetterRequest, context: Context
    ) -> operations_pb2.ReplayDeadLetterResponse:
        sequence = wire.required_sequence(request.sequence)
        async with self._link.jetstream() as js, addressed(sequence):
            letter = await deadletters.replay(js, sequence)
        await self._record(audit_wire.replayed(letter))
        return operations_pb2.ReplayDeadLetterResponse(dead_letter=wire.to_proto(letter))

    async def PurgeDeadLetters(
        self, request: operations_pb2.PurgeDeadLettersRequest, context: Context
    ) -> operations_pb2.PurgeDeadLettersResponse:
        if not request.confirm:
            violation = FieldViolation("confirm", "must be true to drop dead letters")
            raise InvalidArgument("purging dead letters needs confirm: true", violations=[violation])
        consumer = wire.consumer_filter(request.consumer, "consumer")
        async with self._link.jetstream() as js:
            count = await deadletters.purge(js, consumer=consumer)
        await self._record(audit_wire.purged(consumer, count))
        return operations_pb2.PurgeDeadLettersResponse(purged_count=count)

    async def _record(self, entry: AuditEntry) -> None:
        """An audit record of the operation (the caller comes from its token); a line in the log as well."""
        record = await asyncio.to_thread(self._audit.record, entry)
        log.info("audit", action=record.action, actor=record.actor, resource=record.resource, sequence=record.sequence)


@asynccontextmanager
async def addressed(sequence: int) -> AsyncIterator[None]:
    """Turns NATS's 'no such message' for `sequence` into NOT_FOUND."""
    try:
        yield
    except nats.js.errors.NotFoundError as exc:
        raise DeadLetterNotFound(
            f"no dead letter with sequence {sequence}", metadata={"sequence": str(sequence)}
        ) from exc
