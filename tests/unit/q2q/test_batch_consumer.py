"""The screened-text consumer classifies a fetched batch's passed texts in one model pass before handling its
events one by one; what each event stores, and a redelivery storing nothing twice, are as before."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db
from services.q2q import consumers
from services.q2q import tables as t
from services.q2q.domain.classifier import Classification, Method, RuleBasedClassifier
from teei.common.v1 import types_pb2
from teei.safety.v1 import events_pb2 as safety_events

PASSED = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_PASSED)
HELD = types_pb2.ScreeningSummary(outcome=types_pb2.SCREENING_OUTCOME_PENDING_REVIEW, review_id="r-1")
TEXTS = ("I feel so lonely here, but I applied for three jobs.", "I feel much more confident now.", "ok")


@dataclass
class Counting:
    """The rules, counting how texts reach them: alone or in batches."""

    rules: RuleBasedClassifier = field(default_factory=RuleBasedClassifier)
    alone: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)

    @property
    def method(self) -> Method:
        return self.rules.method

    @property
    def model_version(self) -> str:
        return self.rules.model_version

    def classify(self, text: str) -> Classification:
        self.alone.append(text)
        return self.rules.classify(text)

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        self.batches.append(list(texts))
        return self.rules.classify_batch(texts)


def _screened(text: str, source_id: str, screening: types_pb2.ScreeningSummary = PASSED) -> events.Envelope:
    payload = safety_events.TextScreened(
        source_text_id=source_id,
        source_text_type=types_pb2.TEXT_SOURCE_TYPE_KINTELL_SESSION_FEEDBACK,
        screening=screening,
        redacted_text=text,
    )
    return events.new_event(payload, source="teei/safety", tenant="acme", subject=source_id)


def _apply(uow: db.UnitOfWork, subscription: events.Subscription, batch: list[events.Envelope]) -> None:
    """As the event bus applies a fetched batch: the hook, then each event in its own savepoint."""
    assert subscription.prepare is not None
    subscription.prepare(batch)
    with uow.begin() as session:
        for envelope in batch:
            with session.begin_nested():
                if events.claim_once(session, consumer=subscription.consumer, event_id=envelope.id):
                    subscription.handler(envelope, session)


def _stored(uow: db.UnitOfWork) -> list[tuple[str, str, float]]:
    with uow.begin() as session:
        query = sa.select(t.classifications.c.source_id, t.scores.c.dimension, t.scores.c.score).join(
            t.scores, t.scores.c.classification_id == t.classifications.c.classification_id
        )
        return sorted((row[0], row[1], row[2]) for row in session.execute(query))


def test_a_batch_is_classified_in_one_pass_and_stores_what_one_by_one_stores(
    uow: db.UnitOfWork, engine: sa.Engine
) -> None:
    counting = Counting()
    screened = consumers.subscriptions(counting)[0]
    batch = [*(_screened(text, f"s-{i}") for i, text in enumerate(TEXTS)), _screened("held text", "s-9", HELD)]
    _apply(uow, screened, batch)
    assert counting.batches == [list(TEXTS)]  # the held text is not scored: not classified either
    assert counting.alone == []
    together = _stored(uow)
    with uow.begin() as session:
        session.execute(sa.delete(t.score_evidence))
        session.execute(sa.delete(t.scores))
        session.execute(sa.delete(t.classifications))
    for envelope in batch:
        with uow.begin() as session:
            consumers.classify_text_event(envelope, session, classifier=RuleBasedClassifier())
    assert _stored(uow) == together


def test_a_redelivered_batch_stores_nothing_twice(uow: db.UnitOfWork) -> None:
    screened = consumers.subscriptions(Counting())[0]
    batch = [_screened(text, f"s-{i}") for i, text in enumerate(TEXTS)]
    _apply(uow, screened, batch)
    first = _stored(uow)
    _apply(uow, screened, batch)
    _apply(uow, screened, [_screened(text, f"s-{i}") for i, text in enumerate(TEXTS)])  # the same texts anew
    assert _stored(uow) == first


def test_a_text_not_in_the_prepared_batch_is_classified_alone() -> None:
    counting = Counting()
    batch = consumers.BatchClassifier(counting)
    batch.prepare([TEXTS[0], TEXTS[0], "  "])
    assert batch.classify(TEXTS[0]) == RuleBasedClassifier().classify(TEXTS[0])
    assert batch.classify(TEXTS[1]) == RuleBasedClassifier().classify(TEXTS[1])
    assert (counting.batches, counting.alone) == ([[TEXTS[0]]], [TEXTS[1]])


def test_unreadable_or_foreign_events_are_left_to_their_handlers() -> None:
    broken = _screened(TEXTS[0], "s-1")
    broken.data.value = b"\xff\xff"
    other = _screened(TEXTS[1], "s-2")
    other.type = "kintell.session.completed"
    assert consumers.screened_texts([broken, other, _screened(TEXTS[2], "s-3")]) == [TEXTS[2]]
