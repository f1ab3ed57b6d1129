"""The safety consumer: texts of source events are screened and flagged in the delivery's transaction."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from google.protobuf import message

from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.text_sources import TextSourceType
from services.safety import consumers, queries
from services.safety.domain.commands import GetFlag, ListFlags
from services.safety.domain.errors import InvalidSafetyRequest, InvalidScreening
from services.safety.repository import SqlSafetyUnitOfWork
from teei.buddy.v1 import buddy_pb2
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.safety.v1 import events_pb2 as safety_events

PARTICIPANT = str(uuid.uuid4())
VOLUNTEER = str(uuid.uuid4())
TOXIC = "you are such an idiot"


PARTICIPANT_REF = types_pb2.PersonRef(email="p@example.org", profile_id=PARTICIPANT)
VOLUNTEER_REF = types_pb2.PersonRef(email="v@example.org", profile_id=VOLUNTEER)


def _event(payload: message.Message, tenant: str = "acme") -> events.Envelope:
    return events.new_event(payload, source="teei/test", tenant=tenant, subject="x")


def _deliver(engine: sa.Engine, envelope: events.Envelope) -> None:
    with db.UnitOfWork(engine).begin() as session:
        consumers.screen_text_event(envelope, session)


def _raised(engine: sa.Engine) -> list[safety_events.FlagRaised]:
    with db.UnitOfWork(engine).begin() as session:
        return [events.payload_of(e) for e in events.pending(session) if e.type == "safety.flag.raised"]


SOURCE_EVENTS = [
    (
        kintell_events.SessionCompleted(
            session_id="s1", feedback_text=TOXIC, participant=PARTICIPANT_REF, volunteer=VOLUNTEER_REF
        ),
        "s1",
        TextSourceType.KINTELL_SESSION_FEEDBACK,
        PARTICIPANT,
    ),
    (
        kintell_events.RatingCreated(
            rating_id="r1",
            feedback_text=TOXIC,
            rater_role=types_pb2.PERSON_ROLE_VOLUNTEER,
            participant=PARTICIPANT_REF,
            volunteer=VOLUNTEER_REF,
        ),
        "r1",
        TextSourceType.KINTELL_RATING_FEEDBACK,
        VOLUNTEER,
    ),
    (
        buddy_events.FeedbackSubmitted(
            feedback_id="f1",
            text=TOXIC,
            author_role=types_pb2.PERSON_ROLE_PARTICIPANT,
            participant=PARTICIPANT_REF,
            buddy=VOLUNTEER_REF,
        ),
        "f1",
        TextSourceType.BUDDY_FEEDBACK,
        PARTICIPANT,
    ),
    (
        buddy_events.CheckInCompleted(
            checkin_id="c1",
            notes="Fine week.",
            question_responses=[buddy_pb2.QuestionResponse(question="How?", answer=TOXIC)],
            person_role=types_pb2.PERSON_ROLE_VOLUNTEER,
            participant=PARTICIPANT_REF,
            buddy=VOLUNTEER_REF,
        ),
        "c1",
        TextSourceType.BUDDY_CHECKIN_NOTES,
        VOLUNTEER,
    ),
]


@pytest.mark.parametrize("case", SOURCE_EVENTS, ids=[type(c[0]).__name__ for c in SOURCE_EVENTS])
def test_each_source_event_text_is_screened_and_flagged(
    engine: sa.Engine, uow: SqlSafetyUnitOfWork, case: tuple[message.Message, str, TextSourceType, str]
) -> None:
    payload, source_id, source_type, author = case
    envelope = _event(payload)
    _deliver(engine, envelope)
    [raised] = _raised(engine)
    flag = queries.get_flag(GetFlag("acme", raised.flag_id), uow=uow)
    assert (flag.source.source_text_id, flag.source.source_text_type, flag.source.profile_id) == (
        source_id,
        source_type,
        author,
    )
    assert flag.requires_review
    assert flag.review_id
    with db.UnitOfWork(engine).begin() as session:
        pending = events.pending(session)
    assert sorted(e.type for e in pending) == ["safety.flag.raised", "safety.text.screened"]
    assert {(e.causation_id, e.correlation_id) for e in pending} == {(envelope.id, envelope.correlation_id)}


def test_checkin_notes_and_answers_are_screened_as_one_text(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    payload = SOURCE_EVENTS[3][0]
    _deliver(engine, _event(payload))
    [raised] = _raised(engine)
    flag = queries.get_flag(GetFlag("acme", raised.flag_id), uow=uow)
    assert flag.redacted_text == "Fine week.\n\n" + TOXIC
    [span] = flag.findings[0].spans
    assert flag.redacted_text[span.start : span.end] == TOXIC


def test_a_redelivered_or_replayed_event_creates_nothing_new(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    payload = SOURCE_EVENTS[0][0]
    _deliver(engine, _event(payload))
    _deliver(engine, _event(payload))
    assert len(_raised(engine)) == 1
    flags, _ = queries.list_flags(ListFlags("acme"), uow=uow)
    assert len(flags) == 1


def test_safe_and_empty_texts_raise_no_flag(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    _deliver(engine, _event(kintell_events.SessionCompleted(session_id="s2", feedback_text="Lovely session.")))
    _deliver(engine, _event(kintell_events.SessionCompleted(session_id="s3", feedback_text="   ")))
    _deliver(engine, _event(buddy_events.CheckInCompleted(checkin_id="c2")))
    assert _raised(engine) == []
    assert queries.list_flags(ListFlags("acme"), uow=uow) == ([], "")
    with db.UnitOfWork(engine).begin() as session:
        [verdict] = events.pending(session)  # only the safe text is passed on, as screened
    assert (verdict.type, verdict.subject) == ("safety.text.screened", "s2")


def test_pii_only_text_is_flagged_with_the_redacted_text(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    _deliver(engine, _event(buddy_events.FeedbackSubmitted(feedback_id="f9", text="mail me: bo@example.org")))
    [raised] = _raised(engine)
    assert not raised.is_unsafe
    assert queries.get_flag(GetFlag("acme", raised.flag_id), uow=uow).redacted_text == "mail me: [EMAIL]"


def test_events_are_kept_per_tenant(engine: sa.Engine, uow: SqlSafetyUnitOfWork) -> None:
    payload = SOURCE_EVENTS[0][0]
    _deliver(engine, _event(payload, tenant="acme"))
    _deliver(engine, _event(payload, tenant="globex"))
    assert len(queries.list_flags(ListFlags("acme"), uow=uow)[0]) == 1
    assert len(queries.list_flags(ListFlags("globex"), uow=uow)[0]) == 1


def test_malformed_events_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(InvalidSafetyRequest, match="tenant"):
        _deliver(engine, _event(SOURCE_EVENTS[0][0], tenant=""))
    unrelated = events.new_event(safety_events.FlagRaised(flag_id="x"), source="teei/test", tenant="acme", subject="x")
    with pytest.raises(InvalidSafetyRequest):
        _deliver(engine, unrelated)
    oversized = kintell_events.SessionCompleted(session_id="s4", feedback_text="a" * 20_001)
    with pytest.raises(InvalidScreening) as caught:
        _deliver(engine, _event(oversized))
    assert [v.field for v in caught.value.violations] == ["feedback_text"]
    assert _raised(engine) == []


def test_subscriptions_name_every_text_bearing_source_event() -> None:
    [subscription] = [s for s in consumers.SUBSCRIPTIONS if s.consumer == consumers.CONSUMER]
    assert set(subscription.event_types) == {
        "kintell.session.completed",
        "kintell.rating.created",
        "buddy.feedback.submitted",
        "buddy.checkin.completed",
    }
    assert subscription.handler is consumers.screen_text_event
