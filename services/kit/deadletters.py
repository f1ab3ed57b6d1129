"""Operator access to the dead-letter stream: list, show, replay (once the fault is fixed), purge."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import nats
from nats.js import JetStreamContext

from services.kit import events
from services.kit.eventbus import DLQ_STREAM


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


async def list_letters(js: JetStreamContext, *, limit: int = 100) -> list[DeadLetter]:
    """Dead letters, oldest first."""
    info = await js.stream_info(DLQ_STREAM)
    letters: list[DeadLetter] = []
    if not info.state.messages:
        return letters
    for sequence in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
        if len(letters) >= limit:
            break
        with contextlib.suppress(nats.js.errors.NotFoundError):
            letters.append(await show(js, sequence))
    return letters


async def show(js: JetStreamContext, sequence: int) -> DeadLetter:
    """One dead letter by its sequence number in the dead-letter stream."""
    raw = await js.get_msg(DLQ_STREAM, sequence)
    headers = raw.headers or {}
    event_id, event_type = "", ""
    with contextlib.suppress(Exception):
        envelope = events.Envelope.FromString(raw.data or b"")
        event_id, event_type = envelope.id, envelope.type
    return DeadLetter(
        sequence=sequence,
        consumer=headers.get("Teei-Consumer", ""),
        original_subject=headers.get("Teei-Original-Subject", ""),
        attempts=int(headers.get("Teei-Attempts", "0")),
        last_error=headers.get("Teei-Last-Error", ""),
        event_id=event_id,
        event_type=event_type,
        data=raw.data or b"",
    )


async def replay(js: JetStreamContext, sequence: int) -> DeadLetter:
    """Publishes a dead letter to its original subject again and removes it from the stream.

    The message id is new (JetStream would drop a repeat of the old one); consumers still apply
    the event at most once, by its event id."""
    letter = await show(js, sequence)
    msg_id = f"{letter.event_id or 'undecodable'}:replay:{sequence}"
    await js.publish(letter.original_subject, letter.data, headers={"Nats-Msg-Id": msg_id})
    await js.delete_msg(DLQ_STREAM, sequence)
    return letter


async def purge(js: JetStreamContext) -> int:
    """Drops every dead letter; returns how many there were."""
    info = await js.stream_info(DLQ_STREAM)
    await js.purge_stream(DLQ_STREAM)
    count: int = info.state.messages
    return count
