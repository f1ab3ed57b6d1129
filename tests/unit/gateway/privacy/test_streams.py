"""The erasure of the event streams as a step of the erasure workflow, on a real nats-server the test starts
and stops: once every other service confirmed, the person's messages leave the events and dead-letter
streams (another person's and another company's stay) before the gateway forgets the e-mail, and the counts
per stream are in the gateway part's audit record; NATS being unreachable postpones the gateway's part (the
request stays in progress with the e-mail kept) until it is back; an erasure naming only a profile id finds
the e-mail through the profile service before that service erases the person."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from google.protobuf import any_pb2
from nats.js import JetStreamContext
from nats.js import errors as js_errors

from services.cli import probes, spec
from services.gateway import handlers, queries
from services.gateway.bootstrap import Gateway
from services.gateway.domain import privacy as dsr
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.dsr.services import Exported, Unanswered
from services.gateway.dsr.streams import JetStreamEraser
from services.gateway.dsr.worker import PrivacyWorker, WorkerSettings
from services.kit.audit.tables import records as audit_records
from services.kit.identity import profile_id_for_email
from services.kit.messaging import eventbus
from teei.events.v1 import envelope_pb2
from tests.unit.gateway.conftest import FakeClock

EMAIL, OTHER = "ada.stream@example.org", "bo.stream@example.org"
PROFILE_ID = profile_id_for_email("acme", EMAIL)


class NatsServer:
    """A nats-server with JetStream on a loopback port and a store of its own, which the test may stop and
    start again on the same port and store."""

    def __init__(self, store: Path) -> None:
        self.store, self.port, self.monitor = store, spec.free_port(), spec.free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = Path(sys.executable).parent / "nats-server"
        command = [str(binary), "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor), "-js"]
        self._process = subprocess.Popen([*command, "-sd", str(self.store)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not probes.http_ok(f"http://127.0.0.1:{self.monitor}/healthz?js-enabled-only=true"):
            assert self._process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server not healthy in time"
            time.sleep(0.05)  # polling interval of a bounded wait

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    running = NatsServer(tmp_path / "nats")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def js(server: NatsServer) -> AsyncIterator[JetStreamContext]:
    server.start()
    connection = await nats.connect(server.url, connect_timeout=5)
    context = connection.jetstream()
    await eventbus.ensure_stream(context)
    await eventbus.ensure_dlq_stream(context)
    try:
        yield context
    finally:
        await connection.close()


@dataclass
class Service:
    """A personal-data service holding `records` about the person; `down` makes it unreachable."""

    name: str
    records: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    down: bool = False
    erased: list[dsr.DataSubject] = field(default_factory=list)

    async def export(self, subject: dsr.DataSubject) -> Exported:
        self._check()
        found = sum(len(rows) for rows in self.records.values())
        return Exported(dsr.Answer(found=found, exported=found), dict(self.records))

    async def erase(self, subject: dsr.DataSubject, request_id: str) -> dsr.Answer:
        self._check()
        self.erased.append(subject)
        found = sum(len(rows) for rows in self.records.values())
        self.records = {}
        return dsr.Answer(found=found, erased=found)

    async def close(self) -> None:
        return None

    def _check(self) -> None:
        if self.down:
            raise Unanswered(f"{self.name} answered UNAVAILABLE")


def _services() -> dict[str, Service]:
    profile: dict[str, list[dict[str, object]]] = {
        "profiles": [{"profile_id": PROFILE_ID, "email": EMAIL, "given_name": "Ada"}]
    }
    return {"profile": Service("profile", profile), "kintell": Service("kintell", {"kintell_sessions": [{}, {}]})}


def _worker(gateway: Gateway, services: dict[str, Service], clock: FakeClock, url: str) -> PrivacyWorker:
    return PrivacyWorker(
        uow=gateway.uow,
        services=services,
        settings=WorkerSettings(retry_base=10.0),
        clock=clock,
        streams=JetStreamEraser(url, timeout=2.0),
    )


def _erase(gateway: Gateway, worker: PrivacyWorker, clock: FakeClock, *, email: str = "", profile_id: str = "") -> str:
    command = ReceivePrivacyRequest(
        kind="erasure", company_id="acme", requested_by="admin-1", email=email, profile_id=profile_id,
        reason="DSR-7", confirm=True,
    )  # fmt: skip
    request, _ = handlers.receive_privacy_request(command, services=worker.service_names, uow=gateway.uow, clock=clock)
    return request.request_id


def _request(gateway: Gateway, request_id: str) -> dsr.PrivacyRequest:
    viewer = queries.Viewer("acme", "admin-1", sees_company=True)
    return queries.get_privacy_request(request_id, viewer, uow=gateway.uow)[0]


def _envelope(tenant: str, text: str) -> bytes:
    value = b"\x0a" + bytes([len(text)]) + text.encode()  # field 1, a string
    data = any_pb2.Any(type_url="type.googleapis.com/teei.test.Note", value=value)
    return envelope_pb2.Envelope(id=str(uuid.uuid4()), type="test.note", tenant=tenant, data=data).SerializeToString()


async def _present(js: JetStreamContext, stream: str, sequence: int) -> bool:
    try:
        await js.get_msg(stream, sequence)
    except js_errors.NotFoundError:
        return False
    return True


def _gateway_part_logged(gateway: Gateway) -> list[dict[str, Any]]:
    with gateway.engine.connect() as connection:
        query = sa.select(audit_records.c.diff).where(audit_records.c.action == "privacy.erasure.part_settled")
        diffs = [json.loads(d)["after"] for d in connection.execute(query.order_by(audit_records.c.sequence)).scalars()]
    return [d for d in diffs if d["service"] == dsr.GATEWAY]


async def test_an_erasure_removes_the_persons_messages_from_both_streams_and_keeps_anyone_elses(
    gateway: Gateway, clock: FakeClock, js: JetStreamContext, server: NatsServer
) -> None:
    published = {
        "theirs": await js.publish("teei.events.test", _envelope("acme", f"session of {EMAIL}")),
        "by_profile": await js.publish("teei.events.test", _envelope("acme", f"score of {PROFILE_ID}")),
        "dead_letter": await js.publish(eventbus.DLQ_PREFIX + "kintell", _envelope("acme", f"row {EMAIL}")),
        "other_person": await js.publish("teei.events.test", _envelope("acme", f"session of {OTHER}")),
        "other_company": await js.publish("teei.events.test", _envelope("globex", f"session of {EMAIL}")),
    }
    worker = _worker(gateway, _services(), clock, server.url)
    request_id = _erase(gateway, worker, clock, email=EMAIL)

    assert await worker.run_once() == 1

    done = _request(gateway, request_id)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert done.subject.email == ""
    for name, ack in published.items():
        assert await _present(js, ack.stream, ack.seq) is name.startswith("other_"), name
    [logged] = _gateway_part_logged(gateway)
    assert logged["stream_messages_erased"] == {eventbus.DLQ_STREAM: 1, eventbus.STREAM: 2}
    gateway_part = done.outcome(dsr.GATEWAY)
    assert gateway_part.found >= 3
    assert gateway_part.erased >= 3
    assert EMAIL not in json.dumps(logged)


async def test_nats_unreachable_postpones_the_gateway_part_until_it_is_back(
    gateway: Gateway, clock: FakeClock, js: JetStreamContext, server: NatsServer
) -> None:
    theirs = await js.publish("teei.events.test", _envelope("acme", f"session of {EMAIL}"))
    server.stop()
    worker = _worker(gateway, _services(), clock, server.url)
    request_id = _erase(gateway, worker, clock, email=EMAIL)

    await worker.run_once()

    waiting = _request(gateway, request_id)
    assert waiting.status is dsr.RequestStatus.IN_PROGRESS
    assert {o.service: o.status for o in waiting.outcomes} == {
        "profile": dsr.PartStatus.DONE, "kintell": dsr.PartStatus.DONE, dsr.GATEWAY: dsr.PartStatus.PENDING,
    }  # fmt: skip
    own = waiting.outcome(dsr.GATEWAY)
    assert own.attempts == 1
    assert "event streams" in own.error
    assert own.next_attempt_at is not None
    assert own.next_attempt_at > clock()
    assert waiting.subject.email == EMAIL  # kept (sealed) for the next attempt
    assert _gateway_part_logged(gateway) == []
    assert await worker.run_once() == 0  # backing off

    server.start()
    clock.advance(3600)
    assert await worker.run_once() == 1

    done = _request(gateway, request_id)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert done.outcome(dsr.GATEWAY).attempts == 2
    assert done.subject.email == ""
    connection = await nats.connect(server.url, connect_timeout=5)
    try:
        assert not await _present(connection.jetstream(), theirs.stream, theirs.seq)
    finally:
        await connection.close()
    [logged] = _gateway_part_logged(gateway)
    assert logged["stream_messages_erased"] == {eventbus.DLQ_STREAM: 0, eventbus.STREAM: 1}


async def test_an_erasure_by_profile_id_finds_the_email_through_the_profile_service(
    gateway: Gateway, clock: FakeClock, js: JetStreamContext, server: NatsServer
) -> None:
    theirs = await js.publish("teei.events.test", _envelope("acme", f"session of {EMAIL}"))
    others = await js.publish("teei.events.test", _envelope("acme", f"session of {OTHER}"))
    services = _services()
    services["kintell"].down = True  # the gateway's part waits: the e-mail found is kept meanwhile
    worker = _worker(gateway, services, clock, server.url)
    request_id = _erase(gateway, worker, clock, profile_id=PROFILE_ID)
    assert _request(gateway, request_id).subject.email == ""

    await worker.run_once()

    assert [s.email for s in services["profile"].erased] == [EMAIL]
    waiting = _request(gateway, request_id)
    assert waiting.subject.email == EMAIL
    with gateway.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT subject_email FROM privacy_requests")).scalar_one()
    assert EMAIL not in stored  # sealed like an e-mail named at receipt

    services["kintell"].down = False
    clock.advance(3600)
    await worker.run_once()

    done = _request(gateway, request_id)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert done.subject.email == ""
    assert [s.email for s in services["kintell"].erased] == [EMAIL]
    assert not await _present(js, theirs.stream, theirs.seq)
    assert await _present(js, others.stream, others.seq)


async def test_an_erasure_without_nats_configured_completes_without_the_step(
    gateway: Gateway, clock: FakeClock
) -> None:
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), clock=clock)
    request_id = _erase(gateway, worker, clock, email=EMAIL)
    await worker.run_once()
    assert _request(gateway, request_id).status is dsr.RequestStatus.COMPLETED
    [logged] = _gateway_part_logged(gateway)
    assert "stream_messages_erased" not in logged
