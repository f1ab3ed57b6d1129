"""Proto ⇄ kit dead letters for the OperationsService RPCs: requests checked, letters and pages shown."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format, struct_pb2

import teei
from services.kit import paging
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.messaging import deadletters
from teei.operations.v1 import operations_pb2

MAX_PAGE_SIZE = 500
# Durable consumer names: NATS refuses dots, wildcards and whitespace in them.
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class DeadLetterPage:
    """Which dead letters a listing asks for: from `start` on, at most `size`, filtered."""

    start: int
    size: int
    consumer: str | None
    event_type: str | None
    request: paging.PageRequest

    def next_token(self, next_sequence: int) -> str:
        """The token of the page starting at `next_sequence` (0: the stream is exhausted, no token)."""
        return self.request.next_token((str(next_sequence - 1),), more=next_sequence > 0)


def list_dead_letters(request: operations_pb2.ListDeadLettersRequest) -> DeadLetterPage:
    """The page a listing asks for; a token of another listing (other filters) is refused."""
    consumer = consumer_filter(request.consumer, "consumer")
    event_type = request.event_type or None
    scope = ("dead-letters", consumer or "*", event_type or "*")
    page = paging.page_request(request.page_size, request.page_token, scope=scope, max_size=MAX_PAGE_SIZE)
    # The key is the last sequence served; the fingerprint is no secret, so a decimal key is checked here.
    last = page.after[0] if page.after else "0"
    if not last.isdecimal():
        raise InvalidArgument("invalid page_token", violations=[FieldViolation("page_token", "not a page token")])
    return DeadLetterPage(int(last) + 1, page.size, consumer, event_type, page)


def list_response(letters: list[deadletters.DeadLetter], token: str) -> operations_pb2.ListDeadLettersResponse:
    """One page of dead letters."""
    shown = [to_proto(letter) for letter in letters]
    return operations_pb2.ListDeadLettersResponse(dead_letters=shown, next_page_token=token)


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
