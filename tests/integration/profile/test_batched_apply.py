"""The profile consumer's batch apply on both backends: a fetched batch of Kintell sessions, one of them
delivered twice, counts each session once for each person it names, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from services.kit.messaging import eventbus, events
from services.kit.persistence import db
from services.kit.security import pii
from services.profile import bootstrap, consumers
from services.profile.domain import rules
from services.profile.domain.journey import Journey
from services.profile.repository import SqlProfileUnitOfWork
from teei.common.v1 import types_pb2
from tests.unit.profile.support import envelope, milestones, profile, session_completed

COUNTER = "language_sessions_completed"


def _session(session_id: str, participant: str) -> events.Envelope:
    """A completed session naming its people by e-mail alone."""
    payload = session_completed(session_id, participant=participant, volunteer="v@example.org")
    payload.participant.external_id = payload.volunteer.external_id = ""
    return envelope(payload)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    url = url or db.sqlite_url(tmp_path / "profile.db")
    db.upgrade(url, bootstrap.MIGRATIONS)
    cipher = pii.local(tmp_path, "profile")
    engine = db.create_engine(url)
    pii.attach(engine, cipher)
    yield engine
    engine.dispose()
    cipher.close()


def test_a_batch_counts_each_session_once_per_person_and_a_second_copy_changes_nothing(engine: sa.Engine) -> None:
    people = [f"p{i}@example.org" for i in range(3)]
    sessions = [_session(f"k-{i}", people[i % 3]) for i in range(9)]
    bus = eventbus.EventBus(url="nats://127.0.0.1:1", service="profile", engine=engine)
    subscription = next(s for s in consumers.SUBSCRIPTIONS if s.event_types == ("kintell.session.completed",))
    batch = [*sessions[:5], sessions[2], *sessions[5:]]  # the third session delivered twice in one batch
    outcomes = bus._apply_batch(subscription, [(e, events.nats_subject(e.type), None) for e in batch])
    assert outcomes == [True] * 5 + [False] + [True] * 4
    # Redelivered as a later batch: every event claimed already, nothing applied again.
    again = bus._apply_batch(subscription, [(e, events.nats_subject(e.type), None) for e in sessions[:3]])
    assert again == [False] * 3
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    assert [profile(uow, person).journey.counters[COUNTER] for person in people] == [3, 3, 3]
    assert profile(uow, "v@example.org").journey.counters == {"volunteer_language_sessions_completed": 9}


def test_relock_keeps_the_profile_read_unless_its_row_changed_meanwhile(engine: sa.Engine) -> None:
    bus = eventbus.EventBus(url="nats://127.0.0.1:1", service="profile", engine=engine)
    subscription = next(s for s in consumers.SUBSCRIPTIONS if s.event_types == ("kintell.session.completed",))
    assert bus._apply_batch(subscription, [(_session("k-1", "p@example.org"), "s", None)]) == [True]
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    with uow.begin(company_id="acme") as profiles:
        read = profiles.get_by_email("p@example.org")
        assert read is not None
        assert profiles.relock(read) is read
    with uow.begin(company_id="acme") as profiles:
        read = profiles.get_by_email("p@example.org")
        assert read is not None
        stored = read.updated_at
        # A read older than the row (another transaction wrote it before the lock): read again.
        read.updated_at = stored - timedelta(seconds=1)
        relocked = profiles.relock(read)
        assert relocked is not None
        assert relocked is not read
        assert relocked.updated_at == stored
        assert relocked.journey.counters == {COUNTER: 1}


def _by_email_reads(engine: sa.Engine) -> list[str]:
    """Every statement that looks a profile up by its e-mail's blind index, from now on."""
    reads: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "email_index =" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    return reads


def test_a_batch_reads_each_person_once_and_counts_every_session(engine: sa.Engine) -> None:
    people = [f"p{i}@example.org" for i in range(3)]
    bus = eventbus.EventBus(url="nats://127.0.0.1:1", service="profile", engine=engine)
    subscription = next(s for s in consumers.SUBSCRIPTIONS if s.event_types == ("kintell.session.completed",))
    first = [_session(f"k-{i}", person) for i, person in enumerate(people)]
    assert bus._apply_batch(subscription, [(e, "s", None) for e in first]) == [True] * 3
    reads = _by_email_reads(engine)
    batch = [_session(f"k-{i}", people[i % 3]) for i in range(3, 12)]
    assert bus._apply_batch(subscription, [(e, "s", None) for e in batch]) == [True] * 9
    # Four people (three participants, one volunteer), each read once: the batch holds them locked after that.
    assert len(reads) == 4
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    assert [profile(uow, person).journey.counters[COUNTER] for person in people] == [4, 4, 4]
    assert profile(uow, "v@example.org").journey.counters == {"volunteer_language_sessions_completed": 12}


def test_an_event_rolled_back_in_a_batch_leaves_nothing_of_it_to_the_next(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = eventbus.EventBus(url="nats://127.0.0.1:1", service="profile", engine=engine)
    subscription = next(s for s in consumers.SUBSCRIPTIONS if s.event_types == ("kintell.session.completed",))
    failing = _session("k-2", "p@example.org")
    current: list[str] = []
    check_job_ready = rules.check_job_ready

    def fails_after_the_change(journey: Journey, at: datetime) -> None:
        # The participant's journey is changed in memory, nothing written yet, not even its update time.
        if current[-1] == failing.id and journey.counters.get(COUNTER) == 2:
            raise RuntimeError("fails after changing the person's journey")
        check_job_ready(journey, at)

    monkeypatch.setattr(rules, "check_job_ready", fails_after_the_change)
    handler = subscription.handler

    def noting(envelope: events.Envelope, session: orm.Session) -> None:
        current.append(envelope.id)
        handler(envelope, session)

    batch = [_session("k-1", "p@example.org"), failing, _session("k-3", "p@example.org")]
    outcomes = bus._apply_batch(replace(subscription, handler=noting), [(e, "s", None) for e in batch])
    assert outcomes[0] is True
    assert outcomes[2] is True
    assert isinstance(outcomes[1], RuntimeError)
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    # The failed event's session is not counted, not even through the profile the batch kept in memory.
    assert profile(uow, "p@example.org").journey.counters == {COUNTER: 2}
    assert profile(uow, "v@example.org").journey.counters == {"volunteer_language_sessions_completed": 2}
    # Redelivered later, alone, it counts once.
    monkeypatch.setattr(rules, "check_job_ready", check_job_ready)
    assert bus._apply_batch(subscription, [(failing, "s", None)]) == [True]
    assert profile(uow, "p@example.org").journey.counters == {COUNTER: 3}


def test_milestones_reached_in_a_batch_are_each_announced_once(engine: sa.Engine) -> None:
    bus = eventbus.EventBus(url="nats://127.0.0.1:1", service="profile", engine=engine)
    subscription = next(s for s in consumers.SUBSCRIPTIONS if s.event_types == ("kintell.session.completed",))
    levels = [types_pb2.CEFR_LEVEL_A1, types_pb2.CEFR_LEVEL_A2, types_pb2.CEFR_LEVEL_A2, types_pb2.CEFR_LEVEL_B1]
    batch = []
    for i, level in enumerate(levels):
        payload = session_completed(f"k-{i}", participant="p@example.org", volunteer="v@example.org", level=level)
        payload.participant.external_id = payload.volunteer.external_id = ""
        batch.append(envelope(payload))
    assert bus._apply_batch(subscription, [(e, "s", None) for e in batch]) == [True] * 4
    reached = milestones(engine)
    assert len(reached) == len(set(reached))
    uow = SqlProfileUnitOfWork(db.UnitOfWork(engine))
    participant = profile(uow, "p@example.org")
    # One event per milestone the participant's journey holds: the first session and two level-ups.
    assert sorted(m for m in reached if m[0] == participant.profile_id) == sorted(
        (participant.profile_id, f"MILESTONE_KIND_{m.kind.name}", m.key) for m in participant.journey.milestones
    )
    assert len(participant.journey.milestones) == 3
