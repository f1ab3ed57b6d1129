"""Operator access to the dead-letter stream: list, show, replay (once the fault is fixed), purge."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import nats
from nats.js import JetStreamContext, api

from services.kit.errors import FailedPrecondition
from services.kit.messaging import events
from services.kit.messaging.eventbus import DLQ_PREFIX, DLQ_STREAM

# Messages a filtered page looks at before it answers with what it found (and where to go on).
DEFAULT_SCAN = 1000


class NotReplayable(FailedPrecondition):
    """A dead letter without an original subject (published there by hand) cannot be replayed."""

    reason = "DEAD_LETTER_NOT_REPLAYABLE"


@dataclass(frozen=True)
class DeadLetter:
    """One message that exhausted its attempts."""

    sequence: int
    consumer: str
    original_subject: str
    attempts: int
    last_error: str
    event_id: str
    event_type: str
    data: bytes
    tenant: str = ""
    time: datetime | None = None

    @property
    def payload_size(self) -> int:
        """Size of the message (the serialized envelope) in bytes."""
        return len(self.data)

    def envelope(self) -> events.Envelope | None:
        """The event envelope, or None when the message is not a decodable envelope."""
        return _decode(self.data)


@dataclass(frozen=True)
class Page:
    """Dead letters of one page and the sequence the next page starts at (0: no more)."""

    letters: list[DeadLetter]
    next_sequence: int


async def page(
    js: JetStreamContext,
    *,
    start: int = 1,
    limit: int = 100,
    consumer: str | None = None,
    event_type: str | None = None,
    scan: int = DEFAULT_SCAN,
) -> Page:
    """Dead letters from sequence `start` on, oldest first, of one consumer and event type when given.

    At most `scan` messages are read, so a page may be short while more letters follow."""
    subject = DLQ_PREFIX + (consumer or ">")
    letters: list[DeadLetter] = []
    sequence, scanned = max(start, 1), 0
    while len(letters) < limit and scanned < scan:
        try:
            raw = await js.get_msg(DLQ_STREAM, sequence, subject=subject, next=True)
        except nats.js.errors.NotFoundError:
            return Page(letters, 0)
        letter = _letter(raw)
        scanned, sequence = scanned + 1, letter.sequence + 1
        if event_type is None or letter.event_type == event_type:
            letters.append(letter)
    return Page(letters, sequence)


async def list_letters(js: JetStreamContext, *, limit: int = 100) -> list[DeadLetter]:
    """Dead letters, oldest first."""
    return (await page(js, limit=limit, scan=limit)).letters


async def show(js: JetStreamContext, sequence: int) -> DeadLetter:
    """One dead letter by its sequence number in the dead-letter stream."""
    return _letter(await js.get_msg(DLQ_STREAM, sequence))


async def replay(js: JetStreamContext, sequence: int) -> DeadLetter:
    """Publishes a dead letter to its original subject again and removes it from the stream.

    The message id is new (JetStream would drop a repeat of the old one); consumers still apply
    the event at most once, by its event id."""
    letter = await show(js, sequence)
    if not letter.original_subject:
        raise NotReplayable("this dead letter names no original subject", metadata={"sequence": str(sequence)})
    msg_id = f"{letter.event_id or 'undecodable'}:replay:{sequence}"
    await js.publish(letter.original_subject, letter.data, headers={"Nats-Msg-Id": msg_id})
    await js.delete_msg(DLQ_STREAM, sequence)
    return letter


async def purge(js: JetStreamContext, *, consumer: str | None = None) -> int:
    """Drops every dead letter (of one consumer when given); returns how many were dropped.

    Only letters already counted are dropped: one arriving meanwhile stays for the next look."""
    subject = DLQ_PREFIX + consumer if consumer else None
    info = await js.stream_info(DLQ_STREAM, subjects_filter=subject)
    count = _count(info, subject)
    if count:
        await js.purge_stream(DLQ_STREAM, seq=info.state.last_seq + 1, subject=subject)
    return count


def _count(info: api.StreamInfo, subject: str | None) -> int:
    if subject is None:
        return int(info.state.messages)
    return int((info.state.subjects or {}).get(subject, 0))


def _letter(raw: api.RawStreamMsg) -> DeadLetter:
    headers = raw.headers or {}
    data = raw.data or b""
    envelope = _decode(data)
    return DeadLetter(
        sequence=raw.seq or 0,
        consumer=headers.get("Teei-Consumer", ""),
        original_subject=headers.get("Teei-Original-Subject", ""),
        attempts=_attempts(headers.get("Teei-Attempts", "")),
        last_error=headers.get("Teei-Last-Error", ""),
        event_id=envelope.id if envelope else "",
        event_type=envelope.type if envelope else "",
        data=data,
        tenant=envelope.tenant if envelope else "",
        time=raw.time,
    )


def _attempts(raw: str) -> int:
    return int(raw) if raw.isdecimal() else 0


def _decode(data: bytes) -> events.Envelope | None:
    with contextlib.suppress(Exception):
        return events.Envelope.FromString(data)
    return None
