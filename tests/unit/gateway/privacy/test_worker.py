"""The privacy worker over the gateway's real database, with services the test controls: it drives a request
through every service, resumes after a restart, keeps an unreachable service pending, records the
export bundle and forgets the subject's e-mail after an erasure (announcing it through the outbox); every step
is an audit record without the subject's e-mail."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.gateway import handlers, queries
from services.gateway.bootstrap import Gateway
from services.gateway.domain import privacy as dsr
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.domain.errors import InvalidPrivacyRequest, PrivacyBundleExpired
from services.gateway.dsr import bundle
from services.gateway.dsr.services import Exported, Refused, Unanswered
from services.gateway.dsr.worker import PrivacyWorker, WorkerSettings
from services.kit.audit import actors
from services.kit.audit.records import Actor, ActorKind
from services.kit.audit.tables import records as audit_records
from services.kit.messaging.events import outbox
from tests.unit.gateway.conftest import FakeClock

EMAIL = "ada@example.org"


@dataclass
class Service:
    """A personal-data service holding `records` about Ada; `down` makes it unreachable, `refuse` refuse."""

    name: str
    records: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    down: bool = False
    refuse: bool = False
    erased_for: list[str] = field(default_factory=list)

    async def export(self, subject: dsr.DataSubject) -> Exported:
        self._check()
        found = sum(len(rows) for rows in self.records.values())
        return Exported(dsr.Answer(found=found, exported=found), self.records)

    async def erase(self, subject: dsr.DataSubject, request_id: str) -> dsr.Answer:
        self._check()
        self.erased_for.append(request_id)
        found = sum(len(rows) for rows in self.records.values())
        self.records = {}
        return dsr.Answer(found=found, erased=found)

    async def close(self) -> None:
        return None

    def _check(self) -> None:
        if self.down:
            raise Unanswered(f"{self.name} answered UNAVAILABLE")
        if self.refuse:
            raise Refused(f"{self.name} answered PERMISSION_DENIED")


def _services() -> dict[str, Service]:
    return {
        "profile": Service("profile", {"profiles": [{"email": EMAIL, "given_name": "Ada"}]}),
        "kintell": Service("kintell", {"kintell_sessions": [{"session_id": f"s{i}"} for i in range(3)]}),
    }


def _worker(gateway: Gateway, services: dict[str, Service], clock: FakeClock) -> PrivacyWorker:
    return PrivacyWorker(uow=gateway.uow, services=services, settings=WorkerSettings(retry_base=10.0), clock=clock)


def _receive(gateway: Gateway, worker: PrivacyWorker, clock: FakeClock, kind: str, key: str = "") -> dsr.PrivacyRequest:
    command = ReceivePrivacyRequest(
        kind=kind, company_id="acme", requested_by="admin-1", email=EMAIL, reason="DSR-1", confirm=True,
        client_key=key,
    )  # fmt: skip
    request, _ = handlers.receive_privacy_request(command, services=worker.service_names, uow=gateway.uow, clock=clock)
    return request


def _viewer() -> queries.Viewer:
    return queries.Viewer("acme", "admin-1", sees_company=True)


async def test_an_export_completes_with_a_bundle_whose_manifest_digests_match(
    gateway: Gateway, clock: FakeClock
) -> None:
    worker = _worker(gateway, _services(), clock)
    request = _receive(gateway, worker, clock, "export")
    assert [o.service for o in request.outcomes] == ["profile", "kintell", "gateway"]
    assert await worker.run_once() == 1
    done, exported = queries.get_privacy_request(request.request_id, _viewer(), uow=gateway.uow)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert exported is not None
    assert exported["manifest"]["request_id"] == request.request_id
    assert {s["service"]: s["records"] for s in exported["manifest"]["sections"]} == {
        "gateway": 0, "kintell": 3, "profile": 1,
    }  # fmt: skip
    assert exported["sections"]["profile"]["profiles"][0]["given_name"] == "Ada"
    assert bundle.verify(exported) == []
    exported["sections"]["kintell"]["kintell_sessions"].pop()
    assert bundle.verify(exported) == ["kintell"]


async def test_the_same_client_key_is_the_same_request_and_never_runs_twice(gateway: Gateway, clock: FakeClock) -> None:
    services = _services()
    worker = _worker(gateway, services, clock)
    first = _receive(gateway, worker, clock, "erasure", key="dsr-42")
    await worker.run_once()
    again = _receive(gateway, worker, clock, "erasure", key="dsr-42")
    assert again.request_id == first.request_id
    assert again.status is dsr.RequestStatus.COMPLETED
    assert await worker.run_once() == 0
    assert services["profile"].erased_for == [first.request_id]


async def test_an_unreachable_service_keeps_the_request_in_progress_until_it_answers(
    gateway: Gateway, clock: FakeClock
) -> None:
    services = _services()
    services["kintell"].down = True
    worker = _worker(gateway, services, clock)
    request = _receive(gateway, worker, clock, "erasure")
    await worker.run_once()
    waiting, _ = queries.get_privacy_request(request.request_id, _viewer(), uow=gateway.uow)
    assert waiting.status is dsr.RequestStatus.IN_PROGRESS
    assert waiting.outcome("profile").status is dsr.PartStatus.DONE
    assert waiting.outcome("kintell").attempts == 1
    assert waiting.outcome(dsr.GATEWAY).status is dsr.PartStatus.PENDING
    assert await worker.run_once() == 0  # backing off
    services["kintell"].down = False
    clock.advance(3600)
    restarted = _worker(gateway, services, clock)  # a new gateway process: state is in the database
    assert await restarted.run_once() == 1
    done, _ = queries.get_privacy_request(request.request_id, _viewer(), uow=gateway.uow)
    assert done.status is dsr.RequestStatus.COMPLETED
    assert done.outcome("kintell").attempts == 2
    assert (done.outcome("kintell").found, done.outcome("kintell").erased) == (3, 3)


async def test_a_completed_erasure_forgets_the_email_and_announces_the_subject_erased(
    gateway: Gateway, clock: FakeClock
) -> None:
    worker = _worker(gateway, _services(), clock)
    exported = _receive(gateway, worker, clock, "export")
    await worker.run_once()
    erasure = _receive(gateway, worker, clock, "erasure")
    await worker.run_once()
    done, _ = queries.get_privacy_request(erasure.request_id, _viewer(), uow=gateway.uow)
    assert done.status is dsr.RequestStatus.COMPLETED
    with pytest.raises(PrivacyBundleExpired, match="no longer kept"):
        queries.get_privacy_request(exported.request_id, _viewer(), uow=gateway.uow)
    listed = queries.list_privacy_requests(_viewer(), kind=None, status=None, after=None, limit=10, uow=gateway.uow)
    earlier = next(v for v in listed if v.request.request_id == exported.request_id)
    assert earlier.bundle_expired
    assert earlier.request.subject.email == ""
    assert done.subject.email == ""
    with gateway.engine.connect() as connection:
        subjects = list(connection.execute(sa.text("SELECT subject_email FROM privacy_requests")).scalars())
        types = list(connection.execute(sa.select(outbox.c.event_type)).scalars())
    assert subjects == ["", ""]
    assert types == ["privacy.subject.erased"]


async def test_a_refusing_service_fails_the_request_and_the_gateway_part_never_runs(
    gateway: Gateway, clock: FakeClock
) -> None:
    services = _services()
    services["profile"].refuse = True
    worker = _worker(gateway, services, clock)
    request = _receive(gateway, worker, clock, "erasure")
    await worker.run_once()
    failed, _ = queries.get_privacy_request(request.request_id, _viewer(), uow=gateway.uow)
    assert failed.status is dsr.RequestStatus.FAILED
    assert "PERMISSION_DENIED" in failed.outcome("profile").error
    assert failed.outcome(dsr.GATEWAY).attempts == 0
    assert failed.subject.email == EMAIL


async def test_two_gateway_processes_never_drive_one_request_at_once(gateway: Gateway, clock: FakeClock) -> None:
    services = _services()
    first, second = _worker(gateway, services, clock), _worker(gateway, services, clock)
    request = _receive(gateway, first, clock, "erasure")
    held = handlers.start_privacy_request(
        request.request_id, owner=first.owner, lease=timedelta(minutes=5), uow=gateway.uow, clock=clock
    )
    assert held is not None
    assert queries.runnable_requests(now=clock(), limit=10, uow=gateway.uow) == []
    assert await second.drive(request.request_id) is None
    assert services["profile"].erased_for == []
    clock.advance(301)  # the first process died holding the lease: it runs out, the second takes over
    assert await second.run_once() == 1
    assert services["profile"].erased_for == [request.request_id]


def test_an_incomplete_or_oversized_request_is_refused_with_the_fields_named(
    gateway: Gateway, clock: FakeClock
) -> None:
    command = ReceivePrivacyRequest(
        kind="erasure", company_id="acme", requested_by="admin-1", profile_id="p" * 65, reason=""
    )
    with pytest.raises(InvalidPrivacyRequest) as refused:
        handlers.receive_privacy_request(command, services=("profile",), uow=gateway.uow, clock=clock)
    assert sorted(v.field for v in refused.value.violations) == ["confirm", "reason", "subject.profile_id"]


def _privacy_log(gateway: Gateway) -> list[dict[str, Any]]:
    with gateway.engine.connect() as connection:
        rows = connection.execute(sa.select(audit_records).order_by(audit_records.c.sequence)).mappings()
        logged = [dict(row) | {"diff": json.loads(row["diff"])} for row in rows]
    return [entry for entry in logged if entry["action"].startswith("privacy.")]


async def test_every_step_of_a_request_is_audited_by_its_actor_without_the_email(
    gateway: Gateway, clock: FakeClock
) -> None:
    worker = _worker(gateway, _services(), clock)
    with actors.acting_as(Actor(ActorKind.TOKEN, "admin-1")):
        request = _receive(gateway, worker, clock, "export")
    await worker.run_once()
    logged = _privacy_log(gateway)
    assert [(e["action"], e["actor"], e["outcome"]) for e in logged] == [
        ("privacy.export.received", "admin-1", "success"),
        *[("privacy.export.part_settled", "gateway:privacy-worker", "success")] * 3,
    ]
    assert {e["resource"] for e in logged} == {f"privacy_request:{request.request_id}"}
    assert {e["tenant"] for e in logged} == {"acme"}
    parts = [e["diff"]["after"] for e in logged[1:]]
    assert [(p["service"], p["found"], p["request_status"]) for p in parts] == [
        ("profile", 1, "in_progress"), ("kintell", 3, "in_progress"), ("gateway", 0, "completed"),
    ]  # fmt: skip
    assert EMAIL not in json.dumps(logged, default=str)


async def test_a_refused_part_and_a_refused_request_are_audited_as_such(gateway: Gateway, clock: FakeClock) -> None:
    services = _services()
    services["profile"].refuse = True
    worker = _worker(gateway, services, clock)
    _receive(gateway, worker, clock, "erasure")
    await worker.run_once()
    incomplete = ReceivePrivacyRequest(kind="erasure", company_id="acme", requested_by="admin-1", email=EMAIL)
    with actors.acting_as(Actor(ActorKind.TOKEN, "admin-1")), pytest.raises(InvalidPrivacyRequest):
        handlers.receive_privacy_request(incomplete, services=("profile",), uow=gateway.uow, clock=clock)
    logged = _privacy_log(gateway)
    settled = [e for e in logged if e["action"] == "privacy.erasure.part_settled"]
    assert [(e["outcome"], e["diff"]["after"]["service"]) for e in settled] == [
        ("failed", "profile"), ("success", "kintell"),
    ]  # fmt: skip
    assert settled[-1]["diff"]["after"]["request_status"] == "failed"
    assert "PERMISSION_DENIED" in settled[0]["diff"]["after"]["error"]
    refused = logged[-1]
    assert (refused["action"], refused["outcome"], refused["actor"]) == ("privacy.erasure.refused", "denied", "admin-1")
    assert refused["diff"]["after"]["error"] == "InvalidPrivacyRequest"
    assert EMAIL not in json.dumps(logged, default=str)


async def test_the_started_worker_runs_once_started_and_stops_without_waiting_out_its_interval(
    gateway: Gateway, clock: FakeClock
) -> None:
    worker = PrivacyWorker(uow=gateway.uow, services=_services(), settings=WorkerSettings(interval=600.0), clock=clock)
    request = _receive(gateway, worker, clock, "erasure")
    worker.start()
    worker.start()  # once: a second start is a no-op
    deadline = asyncio.get_running_loop().time() + 30
    while worker.runs == 0:
        assert asyncio.get_running_loop().time() < deadline, "the worker did not run"
        await asyncio.sleep(0.01)  # polling interval of a bounded wait
    await asyncio.wait_for(worker.stop(), 5.0)  # far below the 600 s interval it was waiting out
    assert worker.stopping
    assert worker.runs == 1
    done, _ = queries.get_privacy_request(request.request_id, _viewer(), uow=gateway.uow)
    assert done.status is dsr.RequestStatus.COMPLETED
    worker.start()  # a stopped worker never starts again
    assert worker.runs == 1
