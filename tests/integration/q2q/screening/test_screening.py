"""Q2Q → Safety, the first synchronous internal call: Classify with store=true is screened by the real Safety
service first; when Safety cannot answer, the request is accepted (stored=false) and the text waits, awaiting
screening, until the retrier gets Safety's answer. Both services are real grpc.aio servers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from services.cli import certs
from services.cli.spec import free_port
from services.kit.config import ServiceConfig
from services.kit.grpc.channels import insecure_channel
from services.kit.grpc.server import GrpcServer
from services.kit.grpc.unbuilt import NotBuilt
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import mtls, pii
from services.kit.testing import ISSUER, bearer, running, tenant
from services.kit.text_sources import TextSourceType
from services.q2q import bootstrap, consumers, handlers, sealing
from services.q2q import tables as t
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import ReviewDecision
from services.q2q.domain.model import PendingState, PendingText, SourceRef, content_hash
from services.q2q.repository import SqlQ2qRepository
from services.q2q.screening import held_texts
from services.q2q.settings import Q2qSettings
from services.safety import bootstrap as safety_bootstrap
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

ACME_TOKEN = ISSUER.token(tenant="acme")
ACME, GLOBEX = bearer(ACME_TOKEN), tenant("globex")
PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"
FEEDBACK = types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK
PHONE = "555-123-4567"
SAFE = f"I feel much more confident now and I updated my CV. My phone is {PHONE}"
NEEDS_REVIEW = "I feel more confident now, call me on +44 7700 900123 any time."
UNSAFE = "buy now cheap viagra click http://spam.example win money"


@dataclass
class Safety:
    """The real Safety service on a fixed loopback port, so it can be stopped and started again."""

    config: ServiceConfig
    server: GrpcServer | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.config.grpc_port}"

    async def start(self) -> None:
        service = replace(safety_bootstrap.build(self.config), jwks=ISSUER.jwks)
        self.server = GrpcServer(service)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


@dataclass
class HungSafety(safety_pb2_grpc.SafetyServiceServicer):
    """A Safety that accepts ScreenText and never answers; it records the metadata each call carried."""

    calls: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    # Only screening is faked; the other RPCs answer UNIMPLEMENTED.
    GetFlag = NotBuilt("GetFlag")
    ListFlags = NotBuilt("ListFlags")
    GetReview = NotBuilt("GetReview")
    ListReviews = NotBuilt("ListReviews")
    DecideReview = NotBuilt("DecideReview")
    ExportSubjectData = NotBuilt("ExportSubjectData")
    EraseSubjectData = NotBuilt("EraseSubjectData")

    async def ScreenText(self, request: Any, context: Any) -> safety_pb2.ScreenTextResponse:
        self.calls.append({k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)})
        await self.release.wait()
        return safety_pb2.ScreenTextResponse()


@pytest.fixture
async def safety(tmp_path: Path) -> AsyncIterator[Safety]:
    config = ServiceConfig(
        grpc_host="127.0.0.1", grpc_port=free_port(), var_dir=tmp_path / "safety", shutdown_grace_seconds=1.0
    )
    running_safety = Safety(config)
    try:
        yield running_safety
    finally:
        await running_safety.stop()


@pytest.fixture
async def q2q(service_config: ServiceConfig) -> AsyncIterator[Callable[[Q2qSettings], Any]]:
    """Serves Q2Q built by its bootstrap with the given settings; yields a stub factory."""
    stack: list[Any] = []

    async def serve(settings: Q2qSettings) -> q2q_pb2_grpc.Q2qServiceAsyncStub:
        context = running(bootstrap.build(service_config, settings=settings))
        _, channel = await context.__aenter__()
        stack.append(context)
        return q2q_pb2_grpc.Q2qServiceStub(channel)

    yield serve
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


@pytest.fixture
def q2q_db(service_config: ServiceConfig) -> Iterator[db.UnitOfWork]:
    """Q2Q's database, its held texts and notes sealed with the service's own key store."""
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))
    cipher = pii.cipher_for(service_config, bootstrap.NAME)
    pii.attach(engine, cipher)
    yield db.UnitOfWork(engine)
    engine.dispose()
    cipher.close()


def _store(text: str, source_id: str = "f-1") -> q2q_pb2.ClassifyRequest:
    return q2q_pb2.ClassifyRequest(
        text=text, source_text_id=source_id, source_text_type=FEEDBACK, profile_id=PROFILE, store=True
    )


def _held(uow: db.UnitOfWork, source_id: str = "f-1") -> dict[str, Any] | None:
    """The held text's row, its text opened (stored sealed)."""
    with uow.begin() as session:
        query = sa.select(t.pending).where(t.pending.c.company_id == "acme", t.pending.c.source_id == source_id)
        row = session.execute(query).mappings().first()
        return None if row is None else sealing.PENDING.open(pii.attached(session), row)


def _computed(uow: db.UnitOfWork) -> list[events.Envelope]:
    with uow.begin() as session:
        return [e for e in events.pending(session) if e.type == "q2q.scores.computed"]


def _everything_stored(uow: db.UnitOfWork) -> str:
    with uow.begin() as session:
        return " ".join(str(list(session.execute(sa.select(table)))) for table in t.metadata.sorted_tables)


async def _scores(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, source_id: str = "f-1") -> list[q2q_pb2.ScoreRecord]:
    reply = await q2q.ListScores(q2q_pb2.ListScoresRequest(source_text_id=source_id), metadata=ACME)
    return list(reply.scores)


async def _flags(safety: Safety, metadata: Any, source_id: str = "f-1") -> list[safety_pb2.Flag]:
    async with insecure_channel(safety.address) as channel:
        stub = safety_pb2_grpc.SafetyServiceStub(channel)
        reply = await stub.ListFlags(safety_pb2.ListFlagsRequest(source_text_id=source_id), metadata=metadata)
    return list(reply.flags)


async def _eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    limit = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < limit, "the condition did not hold in time"
        await asyncio.sleep(0.05)


async def test_storing_without_a_configured_safety_fails_closed(q2q: Callable[[Q2qSettings], Any]) -> None:
    """No TEEI_SAFETY_ADDRESS: store=true answers FAILED_PRECONDITION; pure classification still works."""
    stub = await q2q(Q2qSettings())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Classify(_store(SAFE), metadata=ACME)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "screening" in (refused.value.details() or "")
    plain = await stub.Classify(q2q_pb2.ClassifyRequest(text=SAFE), metadata=ACME)
    assert plain.stored is False
    assert plain.screening == q2q_pb2.SCREENING_OUTCOME_NOT_REQUESTED


async def test_safe_text_is_stored_redacted_and_safety_sees_the_callers_tenant(
    q2q: Callable[[Q2qSettings], Any], safety: Safety, q2q_db: db.UnitOfWork
) -> None:
    await safety.start()
    stub = await q2q(Q2qSettings(safety_address=safety.address))
    reply = await stub.Classify(_store(SAFE), metadata=ACME)
    assert reply.stored is True
    assert reply.screening == q2q_pb2.SCREENING_OUTCOME_PASSED
    assert reply.content_hash == content_hash(SAFE.replace(PHONE, "[PHONE]"))
    assert len(await _scores(stub)) == len(reply.scores) > 0
    assert PHONE not in _everything_stored(q2q_db)  # the phone number is never kept, in no table
    assert len(_computed(q2q_db)) == 1
    # The end user's token went on: Safety recorded the flag under the caller's company, not another.
    assert [f.source_text_id for f in await _flags(safety, ACME)] == ["f-1"]
    assert await _flags(safety, GLOBEX) == []


async def test_text_needing_review_is_held_until_the_approval_releases_it(
    q2q: Callable[[Q2qSettings], Any], safety: Safety, q2q_db: db.UnitOfWork
) -> None:
    await safety.start()
    stub = await q2q(Q2qSettings(safety_address=safety.address))
    reply = await stub.Classify(_store(NEEDS_REVIEW), metadata=ACME)
    assert reply.stored is False
    assert reply.screening == q2q_pb2.SCREENING_OUTCOME_HELD_FOR_REVIEW
    assert reply.scores  # computed and answered, not kept
    held = _held(q2q_db)
    assert held is not None
    assert held["state"] == PendingState.AWAITING_REVIEW.value
    assert "+44" not in held["text"]
    assert "[PHONE]" in held["text"]
    assert await _scores(stub) == []

    async with insecure_channel(safety.address) as channel:
        decided = await safety_pb2_grpc.SafetyServiceStub(channel).DecideReview(
            safety_pb2.DecideReviewRequest(review_id=held["review_id"], decision=safety_pb2.REVIEW_DECISION_APPROVE),
            metadata=ACME,
        )
    assert decided.review.status == safety_pb2.REVIEW_STATUS_APPROVED
    assert safety.server is not None
    assert safety.server.service.engine is not None
    with db.UnitOfWork(safety.server.service.engine).begin() as session:
        completed = [e for e in events.pending(session) if e.type == "safety.review.completed"]
    with q2q_db.begin() as session:  # the existing consumer, as the durable subscription would call it
        consumers.review_completed(completed[0], session)

    assert len(await _scores(stub)) == len(reply.scores)
    released = _held(q2q_db)
    assert released is not None
    assert released["state"] == PendingState.RELEASED.value
    assert len(_computed(q2q_db)) == 1


async def test_unsafe_text_is_neither_stored_nor_held(
    q2q: Callable[[Q2qSettings], Any], safety: Safety, q2q_db: db.UnitOfWork
) -> None:
    await safety.start()
    stub = await q2q(Q2qSettings(safety_address=safety.address))
    unsafe = await stub.Classify(_store(UNSAFE), metadata=ACME)
    assert unsafe.stored is False
    assert unsafe.screening == q2q_pb2.SCREENING_OUTCOME_UNSAFE
    assert _held(q2q_db) is None
    assert await _scores(stub) == []
    assert _computed(q2q_db) == []


async def test_safety_down_is_accepted_with_stored_false_and_the_open_breaker_fails_fast(
    q2q: Callable[[Q2qSettings], Any], safety: Safety, q2q_db: db.UnitOfWork
) -> None:
    """The stated fallback: nothing is lost, no error; once the breaker is open, calls do not wait for Safety."""
    settings = Q2qSettings(safety_address=safety.address, breaker_failures=2, breaker_reset_seconds=60.0)
    stub = await q2q(settings)  # Safety is not running: its port refuses connections
    deadline = 10.0
    first = await stub.Classify(_store(SAFE, "f-1"), metadata=ACME, timeout=deadline)
    started = time.perf_counter()
    second = await stub.Classify(_store(SAFE, "f-2"), metadata=ACME, timeout=deadline)
    fail_fast = time.perf_counter() - started
    assert (first.stored, second.stored) == (False, False)
    assert first.screening == second.screening == q2q_pb2.SCREENING_OUTCOME_AWAITING_SCREENING
    assert second.scores
    assert fail_fast < deadline * 0.1, f"{fail_fast:.3f}s with the breaker open"
    for source_id in ("f-1", "f-2"):
        held = _held(q2q_db, source_id)
        assert held is not None
        assert held["state"] == PendingState.AWAITING_SCREENING.value
    assert await _scores(stub, "f-1") == []
    assert _computed(q2q_db) == []


async def test_the_retrier_screens_and_stores_an_awaiting_text_exactly_once_when_safety_is_back(
    q2q: Callable[[Q2qSettings], Any], safety: Safety, q2q_db: db.UnitOfWork
) -> None:
    settings = Q2qSettings(
        safety_address=safety.address, breaker_failures=2, breaker_reset_seconds=0.3,
        retry_interval_seconds=0.05, retry_max_interval_seconds=0.3,
    )  # fmt: skip
    stub = await q2q(settings)
    assert (await stub.Classify(_store(SAFE), metadata=ACME)).stored is False
    held = _held(q2q_db)
    assert held is not None
    assert held["state"] == PendingState.AWAITING_SCREENING.value

    await safety.start()

    async def stored() -> bool:
        return len(await _scores(stub)) > 0

    await _eventually(stored)
    settled = _held(q2q_db)
    assert settled is not None
    assert settled["state"] == PendingState.RELEASED.value
    assert settled["text"] == ""
    assert PHONE not in _everything_stored(q2q_db)
    again = await stub.Classify(_store(SAFE), metadata=ACME)  # the client's retry finds the stored result
    assert again.stored is True
    assert len(await _scores(stub)) == len(again.scores)
    assert len(_computed(q2q_db)) == 1
    assert [f.source_text_id for f in await _flags(safety, ACME)] == ["f-1"]  # screened as the submitter


async def test_a_hung_safety_cannot_outlast_the_callers_deadline(
    q2q: Callable[[Q2qSettings], Any], q2q_db: db.UnitOfWork
) -> None:
    """Safety never answers: Classify still answers within its deadline, the text awaits screening, and the
    call Safety received carried the end user's own token. store=false makes no call at all."""
    hung = HungSafety()
    server = grpc.aio.server()
    safety_pb2_grpc.add_SafetyServiceServicer_to_server(hung, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        settings = Q2qSettings(
            safety_address=f"127.0.0.1:{port}", screening_timeout_seconds=60.0, retry_interval_seconds=600.0,
            retry_max_interval_seconds=600.0,
        )  # fmt: skip
        stub = await q2q(settings)
        assert (await stub.Classify(q2q_pb2.ClassifyRequest(text=SAFE), metadata=ACME)).stored is False
        assert hung.calls == []
        deadline = 2.0
        started = time.perf_counter()
        reply = await stub.Classify(_store(SAFE), metadata=ACME, timeout=deadline)
        elapsed = time.perf_counter() - started
        assert reply.stored is False
        assert elapsed < deadline
        held = _held(q2q_db)
        assert held is not None
        assert held["state"] == PendingState.AWAITING_SCREENING.value
        assert [call.get("authorization") for call in hung.calls] == [f"Bearer {ACME_TOKEN}"]
    finally:
        hung.release.set()
        await server.stop(0)


def test_a_review_decision_settles_a_text_awaiting_screening(
    service_config: ServiceConfig, q2q_db: db.UnitOfWork
) -> None:
    """Safety may decide after the caller gave up waiting: the approval releases the waiting text, and the
    unscreened form it was kept in is overwritten."""
    db.upgrade(db.database_url(service_config, bootstrap.NAME), bootstrap.MIGRATIONS)
    source = SourceRef(TextSourceType.BUDDY_FEEDBACK, "f-1")
    waiting = PendingText("acme", source, PROFILE, SAFE, "", PendingState.AWAITING_SCREENING, datetime.now(UTC))
    with q2q_db.begin() as session:
        assert held_texts.await_screening(waiting, repo=SqlQ2qRepository(session, company_id="acme"))
    redacted = SAFE.replace(PHONE, "[PHONE]")
    decision = ReviewDecision("acme", source, PROFILE, approved=True, redacted_text=redacted, review_id="r-1")
    with q2q_db.begin() as session:
        repo = SqlQ2qRepository(session, company_id="acme")
        handlers.apply_review(decision, repo=repo, classifier=RuleBasedClassifier())
    settled = _held(q2q_db)
    assert settled is not None
    assert settled["state"] == PendingState.RELEASED.value
    assert settled["text"] == ""
    assert len(_computed(q2q_db)) == 1
    assert PHONE not in _everything_stored(q2q_db)


def _mesh_certificates(tmp_path: Path) -> Path:
    cert_dir = tmp_path / "mtls"
    certs.init_ca(cert_dir)
    for name in ("q2q", "safety", "edge"):
        certs.issue(cert_dir, name)
    return cert_dir


def _safety_over_mtls(tmp_path: Path, cert_dir: Path) -> Safety:
    return Safety(
        ServiceConfig(
            grpc_host="127.0.0.1", grpc_port=free_port(), var_dir=tmp_path / "safety", shutdown_grace_seconds=1.0,
            mtls_dir=cert_dir,
        )
    )  # fmt: skip


def _flagged_companies(safety: Safety) -> list[str]:
    """The companies of the flags Safety recorded."""
    assert safety.server is not None
    assert safety.server.service.engine is not None
    with db.UnitOfWork(safety.server.service.engine).begin() as session:
        return list(session.execute(sa.text("SELECT company_id FROM safety_flags")).scalars())


async def test_over_mtls_the_call_goes_through_the_mesh_channel_as_q2q(tmp_path: Path) -> None:
    """With TEEI_MTLS_DIR both hops are mutual TLS: Safety's trust policy admits q2q with its service token,
    and Safety still authorises and scopes the screening by the end user's token."""
    cert_dir = _mesh_certificates(tmp_path)
    safety = _safety_over_mtls(tmp_path, cert_dir)
    await safety.start()
    q2q_config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "q2q", shutdown_grace_seconds=1.0, mtls_dir=cert_dir)
    built = bootstrap.build(q2q_config, settings=Q2qSettings(safety_address=safety.address))
    server = GrpcServer(replace(built, jwks=ISSUER.jwks))
    port = await server.start()
    try:
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", mtls.channel_credentials(cert_dir, "edge")) as edge:
            reply = await q2q_pb2_grpc.Q2qServiceStub(edge).Classify(_store(SAFE), metadata=ACME)
        assert reply.stored is True
        assert reply.content_hash == content_hash(SAFE.replace(PHONE, "[PHONE]"))
        assert _flagged_companies(safety) == ["acme"]
    finally:
        await server.stop()
        await safety.stop()


async def test_over_mtls_the_retrier_screens_for_the_tenant_without_the_submitters_token(tmp_path: Path) -> None:
    """After a restart no submitter token survives: over mTLS Q2Q screens the waiting text itself, with a
    service token acting for the text's company, which the trust policy grants for ScreenText only."""
    cert_dir = _mesh_certificates(tmp_path)
    safety = _safety_over_mtls(tmp_path, cert_dir)
    q2q_config = ServiceConfig(grpc_port=0, var_dir=tmp_path / "q2q", shutdown_grace_seconds=1.0, mtls_dir=cert_dir)
    settings = Q2qSettings(safety_address=safety.address, retry_interval_seconds=0.05, retry_max_interval_seconds=0.2)
    first = GrpcServer(replace(bootstrap.build(q2q_config, settings=settings), jwks=ISSUER.jwks))
    port = await first.start()
    try:  # Safety is down: the text waits
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", mtls.channel_credentials(cert_dir, "edge")) as edge:
            reply = await q2q_pb2_grpc.Q2qServiceStub(edge).Classify(_store(SAFE), metadata=ACME)
        assert reply.screening == q2q_pb2.SCREENING_OUTCOME_AWAITING_SCREENING
    finally:
        await first.stop()
    # A new Q2Q process: the submitter's token is gone with the old one.
    await safety.start()
    second = GrpcServer(replace(bootstrap.build(q2q_config, settings=settings), jwks=ISSUER.jwks))
    await second.start()
    q2q_db = db.UnitOfWork(db.create_engine(db.database_url(q2q_config, bootstrap.NAME)))
    try:

        async def settled() -> bool:
            held = _held(q2q_db)
            return held is not None and held["state"] == PendingState.RELEASED.value

        await _eventually(settled)
        assert len(_computed(q2q_db)) == 1
        assert PHONE not in _everything_stored(q2q_db)
        assert _flagged_companies(safety) == ["acme"]  # screened for the text's own company
    finally:
        await second.stop()
        await safety.stop()
        q2q_db.engine.dispose()
