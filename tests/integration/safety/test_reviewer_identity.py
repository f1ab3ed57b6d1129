"""A review decision is recorded under the subject of the caller's validated token, whatever headers it carries."""

from __future__ import annotations

import json

import sqlalchemy as sa

from services.kit.audit.tables import records
from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import running, tenant
from services.safety import bootstrap
from teei.safety.v1 import events_pb2, safety_pb2, safety_pb2_grpc

RITA = tenant("acme", subject="rita@acme.example")
# Headers an edge or a caller might add to claim an identity; only the validated token names the reviewer.
FORGED = (("x-teei-principal", "mallory@acme.example"), ("x-user-id", "mallory@acme.example"))


async def _decide_as(service_config: ServiceConfig, metadata: tuple[tuple[str, str], ...]) -> list[str]:
    """Screens a toxic text, rejects its review with `metadata`, and answers every place the reviewer is
    recorded: the answer, its history, and the `safety.review.completed` event."""
    service = bootstrap.build(service_config)
    async with running(service) as (_, channel):
        safety = safety_pb2_grpc.SafetyServiceStub(channel)
        screened = await safety.ScreenText(safety_pb2.ScreenTextRequest(text="you are such an idiot"), metadata=RITA)
        request = safety_pb2.DecideReviewRequest(
            review_id=screened.summary.review_id, decision=safety_pb2.REVIEW_DECISION_REJECT
        )
        review = (await safety.DecideReview(request, metadata=metadata)).review
        assert service.engine is not None
        # Read while the service runs: its events cipher (installed at start) opens the sealed payloads.
        with db.UnitOfWork(service.engine).begin() as session:
            pending = [e for e in events.pending(session) if e.type == "safety.review.completed"]
            payloads = [events.payload_of(e) for e in pending]
    emitted = [p.reviewer for p in payloads if isinstance(p, events_pb2.ReviewCompleted)]
    return [review.reviewer, *(a.reviewer for a in review.history), *emitted]


async def test_a_decision_records_the_token_subject_as_reviewer(service_config: ServiceConfig) -> None:
    assert await _decide_as(service_config, RITA) == ["rita@acme.example"] * 3


async def test_a_forged_principal_header_does_not_change_the_reviewer(service_config: ServiceConfig) -> None:
    assert await _decide_as(service_config, (*RITA, *FORGED)) == ["rita@acme.example"] * 3


async def test_the_audit_log_records_the_decision_under_the_token_subject(service_config: ServiceConfig) -> None:
    service = bootstrap.build(service_config)
    async with running(service) as (_, channel):
        safety = safety_pb2_grpc.SafetyServiceStub(channel)
        screened = await safety.ScreenText(safety_pb2.ScreenTextRequest(text="you are such an idiot"), metadata=RITA)
        review_id = screened.summary.review_id
        request = safety_pb2.DecideReviewRequest(review_id=review_id, decision=safety_pb2.REVIEW_DECISION_REJECT)
        await safety.DecideReview(request, metadata=(*RITA, *FORGED))
    assert service.engine is not None
    with service.engine.connect() as connection:
        (row,) = connection.execute(sa.select(records).where(records.c.action == "review.decided")).all()
    assert (row.actor, row.actor_kind, row.tenant, row.resource) == (
        "rita@acme.example",
        "token",
        "acme",
        f"review:{review_id}",
    )
    assert json.loads(row.diff)["after"]["decision"] == "reject"
