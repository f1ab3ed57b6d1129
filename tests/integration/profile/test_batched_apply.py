"""The profile consumer's batch apply on both backends: a fetched batch of Kintell sessions, one of them
delivered twice, counts each session once for each person it names, in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.messaging import eventbus, events
from services.kit.persistence import db
from services.kit.security import pii
from services.profile import bootstrap, consumers
from services.profile.repository import SqlProfileUnitOfWork
from tests.unit.profile.support import envelope, profile, session_completed

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
