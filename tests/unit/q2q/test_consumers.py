"""Event handlers: texts safety passed are scored, held texts wait for a review, replays change nothing."""

from __future__ import annotations

import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.security import pii
from services.q2q import consumers, sealing
from services.q2q import tables as t
from services.q2q.domain.classifier import RuleBasedClassifier
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.q2q.v1 import events_pb2 as q2q_events
from teei.q2q.v1 import q2q_pb2
from teei.safety.v1 import events_pb2 as safety_events
from teei.safety.v1 import safety_pb2

PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"
TEXT = "I feel so lonely here, but I applied for three jobs."
PASSED = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_PASSED)
HELD = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_PENDING_REVIEW, review_id="r-1")
UNSAFE = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_UNSAFE)

# The consumers' mechanics are tested with the deterministic rules; the shipped model is tested on its own.
RULES = RuleBasedClassifier()


def _session_event(
    text: str, screening: types_pb2.ScreeningSummary, tenant: str = "acme", profile_id: str = PROFILE
) -> events.Envelope:
    payload = safety_events.TextScreened(
        source_text_id="s-1",
        source_text_type=types_pb2.TEXT_SOURCE_TYPE_KINTELL_SESSION_FEEDBACK,
        source_event_type="kintell.session.completed",
        source_event_id="e-1",
        profile_id=profile_id,
        screening=screening,
        redacted_text=text,
    )
    return events.new_event(payload, source="teei/safety", tenant=tenant, subject="s-1")


def _review(status: int, text: str = TEXT, tenant: str = "acme") -> events.Envelope:
    payload = safety_events.ReviewCompleted(
        review_id="r-1",
        source_text_id="s-1",
        source_text_type=types_pb2.TEXT_SOURCE_TYPE_KINTELL_SESSION_FEEDBACK,
        profile_id=PROFILE,
        status=status,  # type: ignore[arg-type]
        redacted_text=text,
    )
    return events.new_event(payload, source="teei/safety", tenant=tenant, subject="r-1")


def _deliver(uow: db.UnitOfWork, envelope: events.Envelope) -> None:
    handler = consumers.review_completed if envelope.type == "safety.review.completed" else None
    with uow.begin() as session:
        (handler or consumers.classify_text_event)(envelope, session, classifier=RULES)


def _outbox(uow: db.UnitOfWork) -> list[events.Envelope]:
    with uow.begin() as session:
        return events.pending(session)


def _count(uow: db.UnitOfWork, table: sa.Table, tenant: str = "acme") -> int:
    with uow.begin() as session:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.company_id == tenant)
        return int(session.execute(query).scalar_one())


def test_a_text_screened_safe_is_scored_and_announced(uow: db.UnitOfWork) -> None:
    trigger = _session_event(TEXT, PASSED)
    _deliver(uow, trigger)
    (event,) = _outbox(uow)
    assert event.type == "q2q.scores.computed"
    assert event.tenant == "acme"
    assert event.causation_id == trigger.id
    assert event.correlation_id == trigger.correlation_id
    payload = events.payload_of(event)
    assert isinstance(payload, q2q_events.ScoresComputed)
    assert payload.profile_id == PROFILE
    assert payload.source_text_id == "s-1"
    assert set(payload.labels) == {q2q_pb2.LABEL_RISK_ISOLATION, q2q_pb2.LABEL_EMPLOYABILITY_JOB_SEARCH}
    assert payload.method == q2q_pb2.CLASSIFICATION_METHOD_RULE_BASED
    assert _count(uow, t.scores) == 4  # no language signal: no lang_level_proxy score


def test_a_replayed_or_repeated_event_stores_nothing_twice(uow: db.UnitOfWork) -> None:
    event = _session_event(TEXT, PASSED)
    _deliver(uow, event)
    _deliver(uow, event)
    _deliver(uow, _session_event(TEXT, PASSED))
    assert len(_outbox(uow)) == 1
    assert _count(uow, t.scores) == 4


def test_a_held_text_waits_for_an_approving_review(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, HELD))
    assert _outbox(uow) == []
    assert _count(uow, t.scores) == 0
    assert _count(uow, t.pending) == 1
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_APPROVED, text="I feel so lonely here."))
    (event,) = _outbox(uow)
    assert list(events.payload_of(event).labels) == [q2q_pb2.LABEL_RISK_ISOLATION]
    with uow.begin() as session:
        left = session.execute(sa.select(t.pending.c.text, t.pending.c.state)).one()
    assert tuple(left) == ("", "released")  # the held text is not kept once scored
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_APPROVED))
    assert len(_outbox(uow)) == 1


def test_a_rejected_review_discards_the_held_text(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, HELD))
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_REJECTED))
    _deliver(uow, _session_event(TEXT, HELD))
    assert _outbox(uow) == []
    assert _count(uow, t.scores) == 0
    with uow.begin() as session:
        assert session.execute(sa.select(t.pending.c.text, t.pending.c.state)).one() == ("", "rejected")


def test_a_review_arriving_first_scores_the_text_and_the_late_event_is_not_held(uow: db.UnitOfWork) -> None:
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_APPROVED))
    _deliver(uow, _session_event(TEXT, HELD))
    assert len(_outbox(uow)) == 1
    with uow.begin() as session:
        assert session.execute(sa.select(t.pending.c.state)).scalar_one() == "released"


def test_unsafe_or_empty_texts_are_never_scored_or_kept(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, UNSAFE))
    _deliver(uow, _session_event("", PASSED))
    assert _outbox(uow) == []
    assert _count(uow, t.pending) == 0
    assert _count(uow, t.scores) == 0


def test_an_oversized_text_is_skipped(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event("lonely " * 3000, PASSED))
    _deliver(uow, _session_event("lonely " * 3000, HELD))
    assert _outbox(uow) == []
    assert _count(uow, t.pending) == 0


def test_a_review_in_another_tenant_releases_nothing(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, HELD))
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_APPROVED, tenant="globex"))
    assert _count(uow, t.scores, "acme") == 0
    assert _count(uow, t.pending, "acme") == 1
    assert all(event.tenant == "globex" for event in _outbox(uow))


def test_events_without_tenant_or_open_reviews_are_ignored(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, PASSED, tenant=""))
    _deliver(uow, _review(safety_pb2.REVIEW_STATUS_ESCALATED))
    assert _outbox(uow) == []
    assert _count(uow, t.pending) == 0


def test_a_checkin_is_scored_under_its_own_source_and_an_invalid_profile_is_dropped(uow: db.UnitOfWork) -> None:
    payload = safety_events.TextScreened(
        source_text_id="c-1",
        source_text_type=types_pb2.TEXT_SOURCE_TYPE_BUDDY_CHECKIN_NOTES,
        profile_id="not-a-uuid",
        screening=PASSED,
        redacted_text="Struggling this week.\n\nI miss my family.",
    )
    _deliver(uow, events.new_event(payload, source="teei/safety", tenant="acme", subject="c-1"))
    (event,) = _outbox(uow)
    scored = events.payload_of(event)
    assert scored.source_text_type == types_pb2.TEXT_SOURCE_TYPE_BUDDY_CHECKIN_NOTES
    assert scored.source_text_id == "c-1"
    assert scored.profile_id == ""  # an unresolved or malformed profile id is not stored
    assert list(scored.labels) == [q2q_pb2.LABEL_RISK_ISOLATION]


def test_raw_source_events_are_not_scored(uow: db.UnitOfWork) -> None:
    raw = kintell_events.SessionCompleted(session_id="s-9", feedback_text=TEXT, feedback_screening=PASSED)
    _deliver(uow, events.new_event(raw, source="teei/kintell", tenant="acme", subject="s-9"))
    assert _outbox(uow) == []
    assert _count(uow, t.scores) == 0
    assert _count(uow, t.pending) == 0


def test_subscriptions_take_only_safety_verdicts_and_reviews() -> None:
    assert [(sub.consumer, sub.event_types) for sub in consumers.SUBSCRIPTIONS] == [
        ("q2q-screened-texts", ("safety.text.screened",)),
        ("q2q-safety-reviews", ("safety.review.completed",)),
        ("q2q-privacy-subject-erased", ("privacy.subject.erased",)),
    ]


def test_scores_are_kept_under_the_verdicts_source_and_author(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, PASSED))
    with uow.begin() as session:
        rows = session.execute(sa.select(t.scores.c.profile_id, t.scores.c.source_type, t.scores.c.source_id)).all()
    assert {tuple(row) for row in rows} == {(PROFILE, "kintell_session_feedback", "s-1")}


def test_a_held_text_is_the_redacted_one(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event("I feel lonely, mail me: [EMAIL]", HELD))
    with uow.begin() as session:
        row = session.execute(sa.select(t.pending)).mappings().one()
        assert pii.is_sealed(row["text"])
        assert sealing.PENDING.open(pii.attached(session), row)["text"] == "I feel lonely, mail me: [EMAIL]"


def test_incomplete_verdicts_are_ignored(uow: db.UnitOfWork) -> None:
    unspecified = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_UNSPECIFIED)
    _deliver(uow, _session_event(TEXT, unspecified))
    for source_id, source_type in [("", types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK), ("f-1", 0)]:
        payload = safety_events.TextScreened(
            source_text_id=source_id,
            source_text_type=source_type,  # type: ignore[arg-type]
            screening=PASSED,
            redacted_text=TEXT,
        )
        _deliver(uow, events.new_event(payload, source="teei/safety", tenant="acme", subject="x"))
    assert _outbox(uow) == []
    assert _count(uow, t.pending) == 0


def test_each_tenant_scores_its_own_text(uow: db.UnitOfWork) -> None:
    _deliver(uow, _session_event(TEXT, PASSED, tenant="acme"))
    _deliver(uow, _session_event(TEXT, PASSED, tenant="globex"))
    assert sorted(event.tenant for event in _outbox(uow)) == ["acme", "globex"]
    assert _count(uow, t.scores, "acme") == _count(uow, t.scores, "globex") == 4


def test_a_verdict_delivered_to_the_review_handler_is_ignored(uow: db.UnitOfWork) -> None:
    with uow.begin() as session:
        consumers.review_completed(_session_event(TEXT, PASSED), session, classifier=RULES)
    assert _outbox(uow) == []
