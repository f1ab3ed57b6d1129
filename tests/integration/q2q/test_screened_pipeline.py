"""Source → safety → Q2Q in process: a programme text is scored only as safety passed it, never raw."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.kit.identity import profile_id_for_email
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import pii
from services.kit.text_sources import TextSourceType
from services.q2q import bootstrap as q2q_bootstrap
from services.q2q import consumers as q2q_consumers
from services.q2q import queries as q2q_queries
from services.q2q import tables as q2q_tables
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.commands import ListScores
from services.q2q.domain.model import ScoreRecord, SourceRef
from services.q2q.repository import SqlQ2qRepository, SqlQ2qUnitOfWork
from services.safety import bootstrap as safety_bootstrap
from services.safety import consumers as safety_consumers
from services.safety import handlers as safety_handlers
from services.safety.domain.commands import DecideReview
from services.safety.domain.model import ReviewDecision
from services.safety.repository import SqlSafetyUnitOfWork
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events

EMAIL = "ana.silva@example.org"
AUTHOR = types_pb2.PersonRef(email=EMAIL)  # the connector did not resolve the profile id

# The pipeline's mechanics are tested with the deterministic rules; the shipped model is tested on its own.
RULES = q2q_consumers.subscriptions(RuleBasedClassifier())


@contextmanager
def _database(var_dir: Path, service: str, migrations: Path) -> Iterator[db.UnitOfWork]:
    """A migrated database of the service, its personal fields sealed as its bootstrap seals them."""
    url = db.sqlite_url(var_dir / f"{service}.db")
    db.upgrade(url, migrations)
    engine, cipher = db.create_engine(url), pii.local(var_dir, service)
    pii.attach(engine, cipher)
    try:
        yield db.UnitOfWork(engine)
    finally:
        engine.dispose()
        cipher.close()


@pytest.fixture
def safety(tmp_path: Path) -> Iterator[db.UnitOfWork]:
    with _database(tmp_path, "safety", safety_bootstrap.MIGRATIONS) as uow:
        yield uow


@pytest.fixture
def q2q(tmp_path: Path) -> Iterator[db.UnitOfWork]:
    with _database(tmp_path, "q2q", q2q_bootstrap.MIGRATIONS) as uow:
        yield uow


def _deliver(uow: db.UnitOfWork, subscriptions: list[events.Subscription], envelope: events.Envelope) -> bool:
    """What the bus does: the subscribed consumer runs the event once, in one transaction."""
    [subscription] = [s for s in subscriptions if envelope.type in s.event_types]
    with uow.begin() as session:
        if not events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
            return False
        subscription.handler(envelope, session)
        return True


def _published(uow: db.UnitOfWork, event_type: str) -> list[events.Envelope]:
    """The outbox relay's view: events not yet published, read back from their stored bytes."""
    with uow.begin() as session:
        found = [e for e in events.pending(session) if e.type == event_type]
        events.mark_published(session, [e.id for e in found])
    return found


def _session_completed(text: str) -> events.Envelope:
    payload = kintell_events.SessionCompleted(session_id="s-1", feedback_text=text, participant=AUTHOR)
    return events.new_event(payload, source="teei/kintell", tenant="acme", subject="s-1")


def _scores(q2q: db.UnitOfWork) -> list[ScoreRecord]:
    return q2q_queries.list_scores(ListScores("acme"), uow=SqlQ2qUnitOfWork(q2q)).scores


def _stored_anywhere(uow: db.UnitOfWork, needle: str) -> list[str]:
    """Every stored value (across all Q2Q tables and the outbox) that contains `needle`."""
    hits: list[str] = []
    with uow.begin() as session:
        for table in [*q2q_tables.metadata.sorted_tables, events.outbox]:
            for row in session.execute(sa.select(table)):
                hits += [repr(value) for value in row if needle.encode() in repr(value).encode()]
    return hits


def _chain_source(safety: db.UnitOfWork, q2q: db.UnitOfWork, text: str) -> events.Envelope:
    source_event = _session_completed(text)
    assert _deliver(safety, safety_consumers.SUBSCRIPTIONS, source_event)
    [screened] = _published(safety, "safety.text.screened")
    assert (screened.causation_id, screened.correlation_id) == (source_event.id, source_event.correlation_id)
    assert _deliver(q2q, RULES, screened)
    return screened


def test_a_passed_text_is_scored_redacted_for_the_authors_profile(safety: db.UnitOfWork, q2q: db.UnitOfWork) -> None:
    screened = _chain_source(safety, q2q, "I feel so lonely here, but I applied for three jobs. Call (555) 123-4567.")
    scores = _scores(q2q)
    assert {s.profile_id for s in scores} == {profile_id_for_email("acme", EMAIL)}
    assert {(s.source.source_id if s.source else "") for s in scores} == {"s-1"}
    evidence = [item.text for score in scores for item in score.evidence]
    assert set(evidence) == {"lonely", "applied for three jobs"}
    assert _stored_anywhere(q2q, "123-4567") == []
    [computed] = _published(q2q, "q2q.scores.computed")
    assert (computed.causation_id, computed.correlation_id) == (screened.id, screened.correlation_id)


def test_a_text_with_an_email_is_held_until_the_review_approves_and_scored_redacted(
    safety: db.UnitOfWork, q2q: db.UnitOfWork
) -> None:
    text = f"I feel so lonely here, but I applied for three jobs. Mail me at {EMAIL}"
    screened = _chain_source(safety, q2q, text)
    review_id = events.payload_of(screened).screening.review_id
    assert _scores(q2q) == []
    with q2q.begin() as session:  # held, redacted, until the review decides; sealed with the author's key
        source = SourceRef(TextSourceType.KINTELL_SESSION_FEEDBACK, "s-1")
        held = SqlQ2qRepository(session, company_id="acme").get_pending(source)
    assert held is not None
    assert held.text.endswith("Mail me at [EMAIL]")
    assert _stored_anywhere(q2q, "Mail me at [EMAIL]") == []
    assert _stored_anywhere(q2q, EMAIL) == []
    decision = DecideReview("acme", review_id, ReviewDecision.APPROVE, reviewer="moderator-1")
    safety_handlers.decide_review(decision, uow=SqlSafetyUnitOfWork(safety))
    [completed] = _published(safety, "safety.review.completed")
    assert _deliver(q2q, RULES, completed)
    assert not _deliver(q2q, RULES, completed)  # a redelivery is a no-op
    scores = _scores(q2q)
    assert {s.profile_id for s in scores} == {profile_id_for_email("acme", EMAIL)}
    evidence = [item.text for score in scores for item in score.evidence]
    assert set(evidence) == {"lonely", "applied for three jobs"}
    assert not any("@" in snippet for snippet in evidence)
    assert _stored_anywhere(q2q, EMAIL) == []
    assert len(_published(q2q, "q2q.scores.computed")) == 1


def test_a_rejected_review_leaves_no_score_and_no_text(safety: db.UnitOfWork, q2q: db.UnitOfWork) -> None:
    screened = _chain_source(safety, q2q, "you are such an idiot, I feel so lonely")
    review_id = events.payload_of(screened).screening.review_id
    decision = DecideReview("acme", review_id, ReviewDecision.REJECT, reviewer="moderator-1")
    safety_handlers.decide_review(decision, uow=SqlSafetyUnitOfWork(safety))
    [completed] = _published(safety, "safety.review.completed")
    _deliver(q2q, RULES, completed)
    assert _scores(q2q) == []
    assert _stored_anywhere(q2q, "idiot") == []


def test_an_unsafe_text_reaches_q2q_without_its_text(safety: db.UnitOfWork, q2q: db.UnitOfWork) -> None:
    _chain_source(safety, q2q, "so lonely, see http://a.example http://b.example and www.c.example")
    assert _scores(q2q) == []
    assert _stored_anywhere(q2q, "lonely") == []


def test_a_replayed_source_event_reaches_q2q_once(safety: db.UnitOfWork, q2q: db.UnitOfWork) -> None:
    _chain_source(safety, q2q, "I feel so lonely here.")
    _deliver(safety, safety_consumers.SUBSCRIPTIONS, _session_completed("I feel so lonely here."))
    assert _published(safety, "safety.text.screened") == []
    assert len(_published(q2q, "q2q.scores.computed")) == 1
