"""The `privacy.subject.erased` consumer of the kit: the person's rows in the event's company go again (and
only theirs), a second sweep finds nothing, a malformed event erases nothing, the audit entry is appended
where the service audits erasures, and the log carries counts, never the person's ids."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from services.kit.audit import tables as audit_tables
from services.kit.audit.records import ActorKind, AuditEntry
from services.kit.config import ServiceConfig
from services.kit.errors import InvalidArgument
from services.kit.messaging import erasures, events
from services.kit.persistence import db
from services.kit.persistence.subjects import Holding, Person, SubjectMap
from teei.gateway.v1 import events_pb2 as gateway_events
from teei.profile.v1 import events_pb2 as profile_events

ADA, BO = "0b1c5f7e-4c3a-5d2e-9f10-aaaaaaaaaaaa", "0b1c5f7e-4c3a-5d2e-9f10-bbbbbbbbbbbb"
md = sa.MetaData()
notes = sa.Table(
    "notes",
    md,
    sa.Column("note_id", sa.String, primary_key=True),
    sa.Column("company_id", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("text", sa.String, nullable=False),
)
MAP = SubjectMap(
    service="test",
    holdings=(Holding(notes, persons={"author": Person(profile_id="profile_id", owned=("text",))}, key="note_id"),),
    scrub_idempotency=False,
)


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[db.UnitOfWork]:
    engine = db.create_engine(db.sqlite_url(tmp_path / "test.db"))
    for metadata in (md, events.metadata, audit_tables.metadata):
        metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            notes.insert(),
            [
                {"note_id": "n1", "company_id": "acme", "profile_id": ADA, "text": "re-learnt"},
                {"note_id": "n2", "company_id": "acme", "profile_id": ADA, "text": "in flight"},
                {"note_id": "n3", "company_id": "acme", "profile_id": BO, "text": "another person"},
                {"note_id": "n4", "company_id": "globex", "profile_id": ADA, "text": "another company"},
            ],
        )
    yield db.UnitOfWork(engine)
    engine.dispose()


def erased_event(profile_id: str = ADA, *, tenant: str = "acme", subject: str | None = None) -> events.Envelope:
    payload = gateway_events.SubjectErased(privacy_request_id="pr-1", profile_id=profile_id, services=["profile"])
    return events.new_event(
        payload, source="teei/gateway", tenant=tenant, subject=profile_id if subject is None else subject
    )


def remaining(uow: db.UnitOfWork) -> set[str]:
    with uow.read() as session:
        return set(session.execute(sa.select(notes.c.note_id)).scalars())


def sweep(uow: db.UnitOfWork, envelope: events.Envelope, audit: erasures.SweepAudit | None = None) -> erasures.Swept:
    with uow.begin() as session:
        return erasures.sweep(envelope, session, mapping=MAP, audit=audit)


def test_the_persons_rows_in_the_events_company_go_and_nobody_elses(uow: db.UnitOfWork) -> None:
    swept = sweep(uow, erased_event())
    assert (swept.company_id, swept.profile_id, swept.privacy_request_id) == ("acme", ADA, "pr-1")
    assert (swept.erasure.found, swept.erasure.erased) == (2, 2)
    assert remaining(uow) == {"n3", "n4"}


def test_a_second_sweep_finds_nothing(uow: db.UnitOfWork) -> None:
    sweep(uow, erased_event())
    again = sweep(uow, erased_event())
    assert (again.erasure.found, again.erasure.erased) == (0, 0)
    assert remaining(uow) == {"n3", "n4"}


def test_an_event_of_another_company_erases_nothing_of_this_one(uow: db.UnitOfWork) -> None:
    swept = sweep(uow, erased_event(tenant="initech"))
    assert swept.erasure.erased == 0
    assert remaining(uow) == {"n1", "n2", "n3", "n4"}


def _wrong_payload() -> events.Envelope:
    payload = profile_events.MilestoneReached(profile_id=ADA)
    envelope = events.new_event(payload, source="teei/test", tenant="acme", subject=ADA)
    envelope.type = erasures.EVENT_TYPE  # another event's payload dressed as an erasure
    return envelope


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param(erased_event(tenant="Not A Tenant"), id="malformed tenant"),
        pytest.param(erased_event(""), id="no profile id"),
        pytest.param(erased_event(f" {ADA}"), id="padded profile id"),
        pytest.param(erased_event(subject=BO), id="subject is someone else"),
        pytest.param(_wrong_payload(), id="another event's payload"),
    ],
)
def test_a_malformed_event_is_refused_and_erases_nothing(uow: db.UnitOfWork, envelope: events.Envelope) -> None:
    with pytest.raises(InvalidArgument):
        sweep(uow, envelope)
    assert remaining(uow) == {"n1", "n2", "n3", "n4"}


def audited(swept: erasures.Swept) -> AuditEntry:
    after = {"profile_id": swept.profile_id, "erased": swept.erasure.erased}
    return AuditEntry("subject.erased", f"privacy_request:{swept.privacy_request_id}", swept.company_id, after=after)


def test_the_audit_entry_is_appended_when_something_was_erased_attributed_to_the_service(
    uow: db.UnitOfWork,
) -> None:
    sweep(uow, erased_event(), audit=audited)
    sweep(uow, erased_event(), audit=audited)  # found nothing: nothing to record
    with uow.read() as session:
        rows = session.execute(sa.select(audit_tables.records)).mappings().all()
    assert [(r.action, r.resource, r.tenant, r.actor_kind, r.actor) for r in rows] == [
        ("subject.erased", "privacy_request:pr-1", "acme", ActorKind.SYSTEM.value, "test:erased-subjects")
    ]


def test_the_subscription_applies_each_event_once(uow: db.UnitOfWork) -> None:
    subscription = erasures.subscription(MAP)
    assert (subscription.consumer, subscription.event_types) == ("test-privacy-subject-erased", (erasures.EVENT_TYPE,))
    envelope = erased_event()
    for _ in range(2):
        with uow.begin() as session:
            if events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
                subscription.handler(envelope, session)
    with uow.read() as session:
        claimed = session.execute(sa.select(sa.func.count()).select_from(events.inbox)).scalar_one()
    assert (claimed, remaining(uow)) == (1, {"n3", "n4"})


def test_the_log_carries_counts_not_the_persons_ids(uow: db.UnitOfWork) -> None:
    with capture_logs() as logged:
        sweep(uow, erased_event())
    [entry] = [e for e in logged if e["event"] == "privacy.subject.swept"]
    assert (entry["found"], entry["erased"], entry["privacy_request_id"]) == (2, 2, "pr-1")
    assert ADA not in repr(logged)


@pytest.mark.parametrize("service", ["profile", "kintell", "buddy", "upskilling", "q2q", "safety"])
def test_every_personal_data_service_subscribes_with_its_own_subject_map(service: str, tmp_path: Path) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    privacy = importlib.import_module(f"services.{service}.privacy")
    built = bootstrap.build(ServiceConfig(grpc_port=0, var_dir=tmp_path))
    try:
        [subscription] = [s for s in built.subscriptions if erasures.EVENT_TYPE in s.event_types]
        assert (subscription.consumer, subscription.event_types) == (
            erasures.consumer_name(service),
            (erasures.EVENT_TYPE,),
        )
        assert privacy.MAP.service == service
    finally:
        assert built.engine is not None
        built.engine.dispose()
