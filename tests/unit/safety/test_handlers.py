"""Safety handlers on a real SQLite database: flags, the review state machine and the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.text_sources import TextSourceType
from services.safety import handlers, queries
from services.safety.domain.commands import DecideReview, GetReview, ListReviews, ScreenText
from services.safety.domain.errors import InvalidSafetyRequest, ReviewAlreadyDecided, ReviewNotFound
from services.safety.domain.model import (
    Flag,
    Outcome,
    Review,
    ReviewAction,
    ReviewDecision,
    ReviewRecord,
    ReviewStatus,
    ScreenResult,
    TextSource,
)
from services.safety.repository import SqlSafetyRepository, SqlSafetyUnitOfWork
from teei.safety.v1 import events_pb2, safety_pb2

TOXIC = "you are such an idiot"
ADHOC = TextSource("", TextSourceType.OTHER, "")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _screen(uow: SqlSafetyUnitOfWork, text: str, *, source: TextSource = ADHOC, dry_run: bool = False) -> ScreenResult:
    return handlers.screen_text(ScreenText("acme", text, source, dry_run=dry_run), uow=uow)


def _outbox(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session)


def _decide(uow: SqlSafetyUnitOfWork, review_id: str, decision: ReviewDecision, company: str = "acme") -> ReviewRecord:
    command = DecideReview(company, review_id, decision, reviewer="rita@acme.example", notes="checked")
    return handlers.decide_review(command, uow=uow, clock=lambda: NOW)


def test_review_state_machine_allows_decisions_only_on_open_reviews() -> None:
    review = Review("r", "acme", "f", ReviewStatus.PENDING, (), NOW)
    escalated = review.decide(ReviewAction(ReviewDecision.ESCALATE, "a", "", NOW))
    assert escalated.status is ReviewStatus.ESCALATED
    assert not escalated.completed
    rejected = escalated.decide(ReviewAction(ReviewDecision.REJECT, "b", "no", NOW))
    assert rejected.status is ReviewStatus.REJECTED
    assert rejected.completed
    assert [a.reviewer for a in rejected.history] == ["a", "b"]
    assert rejected.version == 2
    with pytest.raises(ReviewAlreadyDecided):
        rejected.decide(ReviewAction(ReviewDecision.APPROVE, "c", "", NOW))


def test_toxic_text_raises_a_flag_queues_a_review_and_emits_one_event(
    uow: SqlSafetyUnitOfWork, engine: sa.Engine
) -> None:
    result = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC), uow=uow)
    assert result.outcome is Outcome.PENDING_REVIEW
    assert result.flag_id
    assert result.review_id
    [envelope] = _outbox(engine)
    assert envelope.type == "safety.flag.raised"
    assert envelope.tenant == "acme"
    payload = events.payload_of(envelope)
    assert isinstance(payload, events_pb2.FlagRaised)
    assert payload.flag_id == result.flag_id
    assert payload.review_id == result.review_id
    assert payload.findings[0].type == safety_pb2.FINDING_TYPE_TOXIC


def test_clean_text_and_dry_runs_persist_nothing(uow: SqlSafetyUnitOfWork, engine: sa.Engine) -> None:
    clean = _screen(uow, "Thanks, the session was great.")
    dry = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC, dry_run=True), uow=uow)
    assert dry.is_unsafe
    assert dry.requires_review
    assert not dry.flag_id
    assert not clean.flag_id
    assert _outbox(engine) == []


def test_raw_pii_is_never_stored_anywhere(uow: SqlSafetyUnitOfWork, engine: sa.Engine) -> None:
    result = handlers.screen_text(ScreenText("acme", "reach me at ada@example.org", ADHOC), uow=uow)
    assert result.redacted_text == "reach me at [EMAIL]"
    _decide(uow, result.review_id, ReviewDecision.APPROVE)
    with engine.connect() as connection:
        for table in ("safety_flags", "safety_reviews", "safety_review_actions", "outbox"):
            for row in connection.execute(sa.text(f"SELECT * FROM {table}")):
                assert "ada@example.org" not in repr(row)


def test_same_source_record_twice_returns_the_first_result_and_creates_nothing(
    uow: SqlSafetyUnitOfWork, engine: sa.Engine
) -> None:
    source = TextSource("session-1", TextSourceType.KINTELL_SESSION_FEEDBACK, "")
    first = handlers.screen_text(ScreenText("acme", TOXIC, source), uow=uow)
    again = handlers.screen_text(ScreenText("acme", TOXIC, source), uow=uow)
    assert again == first
    assert len(_outbox(engine)) == 1
    other_tenant = handlers.screen_text(ScreenText("globex", TOXIC, source), uow=uow)
    assert other_tenant.flag_id != first.flag_id


def test_a_lost_race_for_the_same_source_returns_the_winner(uow: SqlSafetyUnitOfWork, engine: sa.Engine) -> None:
    source = TextSource("s-race", TextSourceType.BUDDY_FEEDBACK, "")
    winner = handlers.screen_text(ScreenText("acme", TOXIC, source), uow=uow)

    class Blind(SqlSafetyRepository):
        """Misses the first look-up, as a concurrent transaction would."""

        calls = 0

        def get_flag_by_source(self, source_text_type: TextSourceType, source_text_id: str) -> Flag | None:
            Blind.calls += 1
            return None if Blind.calls == 1 else super().get_flag_by_source(source_text_type, source_text_id)

    from services.safety.domain.screening import screen  # noqa: PLC0415 - local to this scenario

    with db.UnitOfWork(engine).begin() as session:
        result = handlers.record_screening(
            Blind(session, company_id="acme"), ScreenText("acme", TOXIC, source), screen(TOXIC), now=NOW
        )
    assert result.flag_id == winner.flag_id
    assert len(_outbox(engine)) == 1


def test_final_decision_emits_review_completed_once(uow: SqlSafetyUnitOfWork, engine: sa.Engine) -> None:
    result = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC), uow=uow)
    decided = handlers.decide_review(
        DecideReview("acme", result.review_id, ReviewDecision.REJECT, "rita", "abusive"), uow=uow, clock=lambda: NOW
    )
    assert decided.review.status is ReviewStatus.REJECTED
    completed = [e for e in _outbox(engine) if e.type == "safety.review.completed"]
    assert len(completed) == 1
    payload = events.payload_of(completed[0])
    assert payload.status == safety_pb2.REVIEW_STATUS_REJECTED
    assert payload.reviewer == "rita"
    assert payload.redacted_text == TOXIC
    with pytest.raises(ReviewAlreadyDecided):
        _decide(uow, result.review_id, ReviewDecision.APPROVE)
    assert len([e for e in _outbox(engine) if e.type == "safety.review.completed"]) == 1
    stored = queries.get_review(GetReview("acme", result.review_id), uow=uow)
    assert stored.review.status is ReviewStatus.REJECTED
    assert len(stored.review.history) == 1


def test_escalation_keeps_the_review_open_and_emits_nothing(uow: SqlSafetyUnitOfWork, engine: sa.Engine) -> None:
    result = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC), uow=uow)
    escalated = _decide(uow, result.review_id, ReviewDecision.ESCALATE)
    assert escalated.review.status is ReviewStatus.ESCALATED
    assert [e.type for e in _outbox(engine)] == ["safety.flag.raised"]
    approved = _decide(uow, result.review_id, ReviewDecision.APPROVE)
    assert [a.decision for a in approved.review.history] == [
        ReviewDecision.ESCALATE,
        ReviewDecision.APPROVE,
    ]
    queue, _ = queries.list_reviews(ListReviews("acme", status="approved"), uow=uow)
    assert [r.review.review_id for r in queue] == [result.review_id]


def test_a_stale_decision_is_a_conflict_not_last_write_wins(uow: SqlSafetyUnitOfWork) -> None:
    result = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC), uow=uow)
    stale = queries.get_review(GetReview("acme", result.review_id), uow=uow).review
    _decide(uow, result.review_id, ReviewDecision.APPROVE)
    late = stale.decide(ReviewAction(ReviewDecision.REJECT, "late", "", NOW))
    with uow.begin(company_id="acme") as repository:
        assert repository.save_decision(late) is False
    assert queries.get_review(GetReview("acme", result.review_id), uow=uow).review.status is ReviewStatus.APPROVED


def test_decisions_are_tenant_scoped_and_validated(uow: SqlSafetyUnitOfWork) -> None:
    result = handlers.screen_text(ScreenText("acme", TOXIC, ADHOC), uow=uow)
    with pytest.raises(ReviewNotFound):
        _decide(uow, result.review_id, ReviewDecision.APPROVE, company="globex")
    with pytest.raises(InvalidSafetyRequest):
        handlers.decide_review(DecideReview("acme", result.review_id, None, "r"), uow=uow)
    with pytest.raises(InvalidSafetyRequest):
        handlers.decide_review(
            replace(DecideReview("acme", result.review_id, ReviewDecision.APPROVE, "r"), notes="n" * 2001), uow=uow
        )
    assert queries.get_review(GetReview("acme", result.review_id), uow=uow).review.status is ReviewStatus.PENDING
