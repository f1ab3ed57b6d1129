"""Q2Q consumes `privacy.subject.erased` over real NATS: scores derived from a text still in flight when the
person was erased (a verdict Safety sent before its own part ran) go when the gateway's event arrives, and the
sweep is audited as Q2Q audits erasures; another person, the same profile id in another company and an event
of another company are left alone; a malformed event is dead-lettered while the consumer goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import nats
import pytest
import sqlalchemy as sa

from services.kit.audit.tables import records
from services.kit.config import ServiceConfig
from services.kit.messaging import erasures, events
from services.kit.persistence import db
from services.kit.testing import running, tenant
from services.q2q import bootstrap
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.settings import Q2qSettings
from services.q2q.tables import classifications, scores
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc
from teei.safety.v1 import events_pb2 as safety_events
from tests.integration.kit.messaging.erased_subjects import (
    FAST,
    applied,
    consuming,
    dead_letters,
    erased,
    eventually,
    publish,
)

ADA = "0f8fad5b-d9cb-469f-a165-70867728950e"
BO = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
OPERATOR = tenant("acme", role="super_admin", subject="op-1")
TEXT = "I feel much more confident now, and I updated my CV. Still a bit lonely though."
CONSUMER = erasures.consumer_name(bootstrap.NAME)


@dataclass(frozen=True)
class Q2q:
    """Q2Q served over gRPC, its consumers on NATS, and its database."""

    stub: q2q_pb2_grpc.Q2qServiceAsyncStub
    js: nats.js.JetStreamContext
    engine: sa.Engine

    def scored(self, company_id: str, profile_id: str) -> Callable[[], int]:
        """How many scores and classifications the database holds about the person in the company."""

        def read() -> int:
            with db.UnitOfWork(self.engine).read() as session:
                return sum(
                    session.execute(
                        sa.select(sa.func.count())
                        .select_from(table)
                        .where(table.c.company_id == company_id, table.c.profile_id == profile_id)
                    ).scalar_one()
                    for table in (scores, classifications)
                )

        return read

    async def screened(self, company_id: str, profile_id: str, source_id: str) -> None:
        """A text Safety passed reaches Q2Q (its normal path) and is scored."""
        payload = safety_events.TextScreened(
            source_text_id=source_id,
            source_text_type=types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK,
            source_event_type="buddy.feedback.submitted",
            source_event_id=f"fb-{source_id}",
            profile_id=profile_id,
            screening=types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_PASSED),
            redacted_text=TEXT,
        )
        before = await eventually(self.scored(company_id, profile_id), lambda _: True)
        await publish(self.js, events.new_event(payload, source="teei/safety", tenant=company_id, subject=source_id))
        await eventually(self.scored(company_id, profile_id), lambda n: n > before)

    async def apply(self, envelope: events.Envelope) -> None:
        """Publishes the event and waits until the erasure consumer has applied it."""
        await publish(self.js, envelope)
        await eventually(applied(self.engine, bootstrap.NAME, envelope.id), bool)

    def audited(self) -> list[tuple[str, str, str | None, str]]:
        with db.UnitOfWork(self.engine).read() as session:
            rows = session.execute(sa.select(records).order_by(records.c.sequence)).mappings()
            return [(r.action, r.resource, r.tenant, r.actor) for r in rows if r.action == "subject.erased"]


@pytest.fixture
async def q2q(service_config: ServiceConfig, nats_url: str) -> AsyncIterator[Q2q]:
    service = bootstrap.build(service_config, settings=Q2qSettings(), classifier=RuleBasedClassifier())
    assert service.engine is not None
    async with running(service) as (_, channel), consuming(nats_url, service) as js:
        yield Q2q(q2q_pb2_grpc.Q2qServiceStub(channel), js, service.engine)


async def test_scores_of_a_text_in_flight_go_when_the_event_arrives_and_the_sweep_is_audited(q2q: Q2q) -> None:
    await q2q.screened("acme", ADA, "s-1")
    erase = q2q_pb2.EraseSubjectDataRequest(subject=types_pb2.DataSubject(profile_id=ADA), privacy_request_id="pr-1")
    assert (await q2q.stub.EraseSubjectData(erase, metadata=OPERATOR)).records_erased > 0
    assert q2q.scored("acme", ADA)() == 0
    await q2q.screened("acme", ADA, "s-2")  # a verdict still in flight when Q2Q's part ran
    await q2q.screened("acme", BO, "s-3")
    await q2q.screened("globex", ADA, "s-4")  # the same profile id in another company

    await q2q.apply(erased("acme", ADA))
    assert q2q.scored("acme", ADA)() == 0
    assert q2q.scored("acme", BO)() > 0
    assert q2q.scored("globex", ADA)() > 0
    sweep = ("subject.erased", "privacy_request:pr-1", "acme", erasures.actor(bootstrap.NAME).id)
    assert q2q.audited()[-1] == sweep
    assert len(q2q.audited()) == 2  # the RPC's erasure, then the sweep

    await q2q.apply(erased("acme", ADA, request_id="pr-1-again"))  # nothing left: nothing erased, nothing audited
    assert len(q2q.audited()) == 2


async def test_an_event_of_another_company_erases_nothing_here(q2q: Q2q) -> None:
    await q2q.screened("acme", ADA, "s-1")
    await q2q.apply(erased("globex", ADA))
    assert q2q.scored("acme", ADA)() > 0
    assert q2q.audited() == []


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_goes_on(q2q: Q2q) -> None:
    await q2q.screened("acme", ADA, "s-1")
    no_profile = erased("acme", "")
    bad_tenant = erased("Not A Tenant", ADA)
    for envelope in (no_profile, bad_tenant):
        await publish(q2q.js, envelope)
    letters = await dead_letters(q2q.js, 2)
    assert sorted((letter.consumer, letter.event_id) for letter in letters) == sorted(
        [(CONSUMER, no_profile.id), (CONSUMER, bad_tenant.id)]
    )
    assert {letter.attempts for letter in letters} == {FAST.max_deliver}
    assert q2q.scored("acme", ADA)() > 0

    await q2q.apply(erased("acme", ADA))  # the consumer is still running
    assert q2q.scored("acme", ADA)() == 0
