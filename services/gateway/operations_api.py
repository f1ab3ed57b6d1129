"""OperationsService servicer: the dead-letter admin RPCs of platform operators (super admins).

The access rule (PERMISSION_PLATFORM_OPERATE) is enforced by the kit's interceptor before any
method here runs; replay and purge leave an audit line naming the caller's token subject."""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import nats
from google.protobuf import json_format, struct_pb2
from nats.js import JetStreamContext

import teei
from services.kit.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from services.kit.logs import get_logger
from services.kit.messaging import deadletters, eventbus
from services.kit.security import tenancy
from teei.operations.v1 import operations_pb2, operations_pb2_grpc

log = get_logger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Durable consumer names: NATS refuses dots, wildcards and whitespace in them.
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_PAGE_PREFIX = "dlq:"
# Failures of NATS itself (not of the request): the caller may retry later.
_NATS_DOWN = (
    OSError,
    nats.errors.TimeoutError,
    nats.errors.NoServersError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
)


class DeadLetterNotFound(NotFound):
    """No dead letter has this sequence number (never had, replayed or purged)."""

    reason = "DEAD_LETTER_NOT_FOUND"


class NatsLink:
    """A short-lived NATS connection per admin call: rare calls, and a restarted NATS needs no reconnect
    state. A missing NATS_URL or an unreachable server answers UNAVAILABLE."""

    def __init__(self, url: str | None, *, timeout: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout

    @asynccontextmanager
    async def jetstream(self) -> AsyncIterator[JetStreamContext]:
        """JetStream with the dead-letter stream in place; closed when the block ends."""
        if not self._url:
            raise Unavailable("the dead-letter stream is not configured (NATS_URL is not set)")
        try:
            async with asyncio.timeout(self._timeout):
                # Two attempts in all (0 would mean forever); the caller retries, not this process.
                nc = await nats.connect(
                    self._url,
                    connect_timeout=self._timeout,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.1,
                    error_cb=_nats_error,
                )
        except (*_NATS_DOWN, TimeoutError, nats.errors.Error) as exc:
            raise Unavailable("NATS is unreachable; retry later") from exc
        try:
            js = nc.jetstream(timeout=self._timeout)
            await eventbus.ensure_dlq_stream(js)
            yield js
        except _NATS_DOWN as exc:
            raise Unavailable("NATS did not answer; retry later") from exc
        finally:
            await nc.close()


class OperationsServicer(operations_pb2_grpc.OperationsServiceServicer):
    """Lists, shows, replays and purges dead letters; proto ⇄ kit `deadletters` calls, nothing else."""

    def __init__(self, *, link: NatsLink) -> None:
        self._link = link
        load_event_types()

    async def ListDeadLetters(
        self, request: operations_pb2.ListDeadLettersRequest, context: Context
    ) -> operations_pb2.ListDeadLettersResponse:
        size, start = page_size(request.page_size), page_start(request.page_token)
        consumer = consumer_filter(request.consumer, "consumer")
        async with self._link.jetstream() as js:
            found = await deadletters.page(
                js, start=start, limit=size, consumer=consumer, event_type=request.event_type or None
            )
        return operations_pb2.ListDeadLettersResponse(
            dead_letters=[to_proto(letter) for letter in found.letters],
            next_page_token=page_token(found.next_sequence),
        )

    async def GetDeadLetter(
        self, request: operations_pb2.GetDeadLetterRequest, context: Context
    ) -> operations_pb2.GetDeadLetterResponse:
        sequence = required_sequence(request.sequence)
        async with self._link.jetstream() as js, addressed(sequence):
            letter = await deadletters.show(js, sequence)
        return operations_pb2.GetDeadLetterResponse(dead_letter=to_proto(letter), envelope=envelope_json(letter))

    async def ReplayDeadLetter(
        self, request: operations_pb2.ReplayDeadLetterRequest, context: Context
    ) -> operations_pb2.ReplayDeadLetterResponse:
        sequence = required_sequence(request.sequence)
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
        return operations_pb2.ReplayDeadLetterResponse(dead_letter=to_proto(letter))

    async def PurgeDeadLetters(
        self, request: operations_pb2.PurgeDeadLettersRequest, context: Context
    ) -> operations_pb2.PurgeDeadLettersResponse:
        if not request.confirm:
            violation = FieldViolation("confirm", "must be true to drop dead letters")
            raise InvalidArgument("purging dead letters needs confirm: true", violations=[violation])
        consumer = consumer_filter(request.consumer, "consumer")
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


def to_proto(letter: deadletters.DeadLetter) -> operations_pb2.DeadLetter:
    """The wire form of one dead letter, without its payload."""
    proto = operations_pb2.DeadLetter(
        sequence=letter.sequence,
        consumer=letter.consumer,
        original_subject=letter.original_subject,
        attempts=letter.attempts,
        last_error=letter.last_error,
        event_id=letter.event_id,
        event_type=letter.event_type,
        tenant=letter.tenant,
        payload_size_bytes=letter.payload_size,
    )
    if letter.time is not None:
        proto.dead_letter_time.FromDatetime(letter.time)
    return proto


def envelope_json(letter: deadletters.DeadLetter) -> struct_pb2.Struct | None:
    """The envelope in its JSON form (proto field names), payload decoded; None when undecodable.

    A payload whose type this process does not know is shown by its type URL only."""
    envelope = letter.envelope()
    if envelope is None:
        return None
    try:
        as_json = json_format.MessageToDict(envelope, preserving_proto_field_name=True)
    except (TypeError, json_format.Error):
        type_url = envelope.data.type_url
        envelope.ClearField("data")
        as_json = {**json_format.MessageToDict(envelope, preserving_proto_field_name=True), "data": {"@type": type_url}}
    struct = struct_pb2.Struct()
    struct.update(as_json)
    return struct


def load_event_types() -> None:
    """Imports every generated `teei.<domain>.v1.events_pb2`, so payloads resolve by their type URL."""
    for root in teei.__path__:
        for module in sorted(Path(root).glob("*/v1/events_pb2.py")):
            importlib.import_module(f"teei.{module.parent.parent.name}.v1.events_pb2")


def page_size(requested: int) -> int:
    """The page size to serve: the default for 0, at most MAX_PAGE_SIZE, never negative."""
    if requested < 0:
        raise InvalidArgument("page_size must not be negative", violations=[FieldViolation("page_size", "negative")])
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def page_token(next_sequence: int) -> str:
    """The opaque token of the page starting at `next_sequence`; empty when there is none."""
    if not next_sequence:
        return ""
    return base64.urlsafe_b64encode(f"{_PAGE_PREFIX}{next_sequence}".encode()).decode()


def page_start(token: str) -> int:
    """The first sequence of the page a token names (1 for the first page)."""
    if not token:
        return 1
    try:
        decoded = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    number = decoded.removeprefix(_PAGE_PREFIX)
    if not decoded.startswith(_PAGE_PREFIX) or not number.isdecimal():
        raise InvalidArgument("invalid page_token", violations=[FieldViolation("page_token", "not a page token")])
    return int(number)


def consumer_filter(consumer: str, field: str) -> str | None:
    """A consumer name to filter by, or None; wildcards and dots would widen the filter, so are refused."""
    if not consumer:
        return None
    if not _CONSUMER.match(consumer):
        raise InvalidArgument(f"invalid {field}", violations=[FieldViolation(field, "not a consumer name")])
    return consumer


def required_sequence(sequence: int) -> int:
    """A dead letter's sequence number; sequences start at 1."""
    if sequence < 1:
        raise InvalidArgument("sequence is required", violations=[FieldViolation("sequence", "must be at least 1")])
    return sequence


async def _nats_error(exc: Exception) -> None:
    log.debug("operations.nats_error", error=type(exc).__name__)
