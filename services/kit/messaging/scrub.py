"""An erased person's events removed from JetStream: every message of the events stream and the
dead-letter stream whose envelope belongs to the person's company and names the person (their e-mail or
profile id, in the envelope's subject or anywhere in its payload, case-insensitively) is deleted with
JetStream's secure erase, which overwrites the message in the store's files rather than only marking it.

This is the erasure's step for copies no service's database holds: events already published keep the
e-mails and names the connectors send (the outbox is plain on purpose, and consumers resolve people from
them), and an event still pending would otherwise re-create what the services have just erased when its
consumer takes it. An event naming the person and someone else (a session's participant and volunteer)
goes as a whole: a consumer that has not yet applied it will not learn the other person's part from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors

from services.kit.logs import get_logger
from services.kit.messaging.eventbus import DLQ_STREAM, STREAM
from teei.events.v1 import envelope_pb2

log = get_logger(__name__)
FETCH_BATCH = 256
FETCH_SECONDS = 2.0


@dataclass(frozen=True)
class ScrubReport:
    """Messages read and erased per stream."""

    scanned: dict[str, int] = field(default_factory=dict)
    erased: dict[str, int] = field(default_factory=dict)

    @property
    def total_erased(self) -> int:
        """Messages erased in every stream."""
        return sum(self.erased.values())


def names_subject(data: bytes, *, tenant: str, needles: Sequence[bytes]) -> bool:
    """Whether the envelope in `data` is `tenant`'s and names one of `needles` (lower-case)."""
    envelope = envelope_pb2.Envelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError:
        return False
    if envelope.tenant != tenant:
        return False
    text = envelope.subject.encode().lower() + b"\0" + envelope.data.value.lower()
    return any(needle in text for needle in needles)


async def scrub_subject(
    js: JetStreamContext, *, tenant: str, identifiers: Iterable[str], streams: Sequence[str] = (STREAM, DLQ_STREAM)
) -> ScrubReport:
    """Securely erases every message of `streams` that is `tenant`'s and names one of `identifiers`
    (e-mails, profile ids); a stream that does not exist is skipped."""
    needles = tuple({i.strip().lower().encode() for i in identifiers if i.strip()})
    report = ScrubReport()
    if not needles or not tenant:
        return report
    for stream in streams:
        try:
            matches, scanned = await _matching(js, stream, tenant=tenant, needles=needles)
        except js_errors.NotFoundError:
            continue
        for sequence in matches:
            try:
                await js.delete_msg(stream, sequence)
            except js_errors.NotFoundError:
                continue  # gone meanwhile (retention, another erasure)
        report.scanned[stream], report.erased[stream] = scanned, len(matches)
    log.info("privacy.streams_scrubbed", tenant=tenant, erased=report.erased, scanned=report.scanned)
    return report


async def _matching(
    js: JetStreamContext, stream: str, *, tenant: str, needles: Sequence[bytes]
) -> tuple[list[int], int]:
    """The sequences of `stream`'s messages naming the subject, read by an ephemeral consumer from the
    first message to the last one present when the scan began."""
    info = await js.stream_info(stream)
    last = info.state.last_seq
    if info.state.messages == 0:
        return [], 0
    config = js_api.ConsumerConfig(
        ack_policy=js_api.AckPolicy.NONE,
        deliver_policy=js_api.DeliverPolicy.ALL,
        inactive_threshold=60.0,
        mem_storage=True,
    )
    subjects = info.config.subjects or [">"]
    subscription = await js.pull_subscribe(subjects[0] if len(subjects) == 1 else ">", stream=stream, config=config)
    matches: list[int] = []
    scanned = 0
    try:
        while True:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_SECONDS)
            except TimeoutError:
                break
            done = False
            for message in messages:
                sequence = message.metadata.sequence.stream
                scanned += 1
                if names_subject(message.data, tenant=tenant, needles=needles):
                    matches.append(sequence)
                if sequence >= last or message.metadata.num_pending == 0:
                    done = True
            if done:
                break
    finally:
        await subscription.unsubscribe()
    return matches, scanned
