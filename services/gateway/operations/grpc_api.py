"""OperationsService servicer: the dead-letter admin RPCs of platform operators (super admins).

The access rule (PERMISSION_PLATFORM_OPERATE) is enforced by the kit's interceptor before any
method here runs; replay and purge leave an audit line naming the caller's token subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import nats

from services.gateway.operations import wire
from services.gateway.operations.link import NatsLink
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

    def __init__(self, *, link: NatsLink) -> None:
        self._link = link
        wire.load_event_types()

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
        audit(
            "dead_letter.replayed",
            sequence=sequence,
            consumer=letter.consumer,
            event_id=letter.event_id,
            event_type=letter.event_type,
            tenant=letter.tenant,
        )
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
        audit("dead_letters.purged", consumer=consumer or "*", purged_count=count)
        return operations_pb2.PurgeDeadLettersResponse(purged_count=count)


def audit(action: str, **what: Any) -> None:
    """One audit line: who (the token subject and role) did what; never a payload or a token."""
    caller = tenancy.current_principal()
    log.info("audit", action=action, actor=caller.subject, actor_role=caller.role, **what)


@asynccontextmanager
async def addressed(sequence: int) -> AsyncIterator[None]:
    """Turns NATS's 'no such message' for `sequence` into NOT_FOUND."""
    try:
        yield
    except nats.js.errors.NotFoundError as exc:
        raise DeadLetterNotFound(
            f"no dead letter with sequence {sequence}", metadata={"sequence": str(sequence)}
        ) from exc
