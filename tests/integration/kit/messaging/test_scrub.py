"""An erased person's events removed from JetStream (services/kit/messaging/scrub.py), on a real
nats-server with a store of its own (no cipher, so the store's bytes can be read): the events naming the
person in their company, in the events stream and the dead-letter stream, are gone and their bytes are no
longer in the store's files; the same e-mail in another company and other people's events stay."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from google.protobuf import any_pb2
from nats.js import JetStreamContext

from services.cli import probes, spec
from services.kit.messaging import eventbus, scrub
from teei.events.v1 import envelope_pb2


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store, port, monitor = tmp_path / "nats", spec.free_port(), spec.free_port()
    binary = Path(sys.executable).parent / "nats-server"
    command = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not probes.http_ok(f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"):
            if process.poll() is not None:
                raise AssertionError(f"nats-server exited: {process.stderr.read().decode() if process.stderr else ''}")
            assert time.monotonic() < deadline, "nats-server not healthy in time"
            time.sleep(0.05)  # polling interval of a bounded wait
        yield f"nats://127.0.0.1:{port}", store
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
async def js(private_nats: tuple[str, Path]) -> AsyncIterator[JetStreamContext]:
    connection = await nats.connect(private_nats[0], connect_timeout=5)
    context = connection.jetstream()
    await eventbus.ensure_stream(context)
    await eventbus.ensure_dlq_stream(context)
    try:
        yield context
    finally:
        await connection.close()


def _envelope(tenant: str, text: str, *, subject: str = "") -> bytes:
    value = b"\x0a" + bytes([len(text)]) + text.encode()  # field 1, a string
    data = any_pb2.Any(type_url="type.googleapis.com/teei.test.Note", value=value)
    envelope = envelope_pb2.Envelope(id=str(uuid.uuid4()), type="test.note", tenant=tenant, subject=subject, data=data)
    return envelope.SerializeToString()


def _store_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file())


async def test_the_persons_events_are_erased_from_both_streams_and_the_store_bytes(
    js: JetStreamContext, private_nats: tuple[str, Path]
) -> None:
    erased, kept = "ahmed.k@example.org", "fatima.h@example.org"
    profile_id = str(uuid.uuid4())
    published = {
        "theirs": await js.publish("teei.events.test", _envelope("acme", f"session of {erased.upper()}")),
        "by_profile": await js.publish("teei.events.test", _envelope("acme", "a score", subject=profile_id)),
        "other_person": await js.publish("teei.events.test", _envelope("acme", f"session of {kept}")),
        "other_company": await js.publish("teei.events.test", _envelope("globex", f"session of {erased}")),
        "dead_letter": await js.publish(eventbus.DLQ_PREFIX + "profile", _envelope("acme", f"feedback {erased}")),
        "not_an_envelope": await js.publish(eventbus.DLQ_PREFIX + "profile", b"\xff\xfe " + erased.encode()),
    }
    report = await scrub.scrub_subject(js, tenant="acme", identifiers=[erased, profile_id])

    assert report.erased == {eventbus.STREAM: 2, eventbus.DLQ_STREAM: 1}
    assert report.scanned == {eventbus.STREAM: 4, eventbus.DLQ_STREAM: 2}
    for name, ack in published.items():
        try:
            await js.get_msg(ack.stream, ack.seq)
            present = True
        except nats.js.errors.NotFoundError:
            present = False
        assert present is (name in ("other_person", "other_company", "not_an_envelope")), name
    stored = _store_bytes(private_nats[1])
    assert f"session of {erased.upper()}".encode() not in stored
    assert f"feedback {erased}".encode() not in stored
    assert f"session of {kept}".encode() in stored  # the control: the store's bytes are readable here


async def test_nothing_to_erase_and_empty_identifiers_erase_nothing(js: JetStreamContext) -> None:
    ack = await js.publish("teei.events.test", _envelope("acme", "session of someone@example.org"))
    assert (await scrub.scrub_subject(js, tenant="acme", identifiers=["nobody@example.org"])).total_erased == 0
    assert (await scrub.scrub_subject(js, tenant="acme", identifiers=["", "  "])).total_erased == 0
    assert (await js.get_msg(ack.stream, ack.seq)).data


def test_an_envelope_matches_only_in_its_own_company_and_case_insensitively() -> None:
    data = _envelope("acme", "Ahmed.K@Example.org wrote")
    assert scrub.names_subject(data, tenant="acme", needles=[b"ahmed.k@example.org"])
    assert not scrub.names_subject(data, tenant="globex", needles=[b"ahmed.k@example.org"])
    assert not scrub.names_subject(b"\xff\xff\xff", tenant="acme", needles=[b"ahmed"])
