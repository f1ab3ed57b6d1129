"""The safety consumer announces one verdict per screened source text, with the redacted text Q2Q may score."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from google.protobuf import message

from services.kit.identity import profile_id_for_email
from services.kit.messaging import events
from services.kit.persistence import db
from services.safety import consumers
from services.safety.domain.errors import InvalidSafetyRequest, InvalidScreening
from teei.buddy.v1 import buddy_pb2
from teei.buddy.v1 import events_pb2 as buddy_events
from teei.common.v1 import types_pb2
from teei.kintell.v1 import events_pb2 as kintell_events
from teei.safety.v1 import events_pb2 as safety_events

PARTICIPANT = str(uuid.uuid4())
VOLUNTEER = str(uuid.uuid4())
PARTICIPANT_REF = types_pb2.PersonRef(email="p@example.org", profile_id=PARTICIPANT)
VOLUNTEER_REF = types_pb2.PersonRef(email="v@example.org", profile_id=VOLUNTEER)
PASSED = types_pb2.SCREENING_OUTCOME_PASSED
UNSAFE = types_pb2.SCREENING_OUTCOME_UNSAFE
PENDING_REVIEW = types_pb2.SCREENING_OUTCOME_PENDING_REVIEW
SPAM = "see http://a.example http://b.example and www.c.example"


def _session(text: str, session_id: str = "s1", participant: types_pb2.PersonRef = PARTICIPANT_REF) -> message.Message:
    return kintell_events.SessionCompleted(
        session_id=session_id, feedback_text=text, participant=participant, volunteer=VOLUNTEER_REF
    )


def _event(payload: message.Message, tenant: str = "acme") -> events.Envelope:
    return events.new_event(payload, source="teei/test", tenant=tenant, subject="x")


def _deliver(engine: sa.Engine, envelope: events.Envelope) -> None:
    with db.UnitOfWork(engine).begin() as session:
        consumers.screen_text_event(envelope, session)


def _screened(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return [e for e in events.pending(session) if e.type == "safety.text.screened"]


def _verdict(engine: sa.Engine, envelope: events.Envelope) -> safety_events.TextScreened:
    _deliver(engine, envelope)
    [screened] = _screened(engine)
    payload: safety_events.TextScreened = events.payload_of(screened)
    return payload


def test_a_clean_text_passes_unchanged_and_names_its_cause(engine: sa.Engine) -> None:
    trigger = _event(_session("Lovely session, thank you."))
    verdict = _verdict(engine, trigger)
    assert verdict.screening == types_pb2.ScreeningSummary(outcome=PASSED)
    assert verdict.redacted_text == "Lovely session, thank you."
    assert (verdict.source_text_id, verdict.source_text_type) == (
        "s1",
        types_pb2.TEXT_SOURCE_TYPE_KINTELL_SESSION_FEEDBACK,
    )
    assert (verdict.source_event_type, verdict.source_event_id) == ("kintell.session.completed", trigger.id)
    assert verdict.profile_id == PARTICIPANT
    [screened] = _screened(engine)
    assert (screened.tenant, screened.subject, screened.source) == ("acme", "s1", "teei/safety")
    assert (screened.causation_id, screened.correlation_id) == (trigger.id, trigger.correlation_id)


def test_a_pii_only_text_passes_with_the_redacted_text(engine: sa.Engine) -> None:
    verdict = _verdict(engine, _event(_session("call (555) 123-4567 tonight")))
    assert (verdict.screening.outcome, verdict.screening.redacted) == (PASSED, True)
    assert verdict.screening.flag_id
    assert not verdict.screening.review_id
    assert verdict.redacted_text == "call [PHONE] tonight"


@pytest.mark.parametrize("text", ["you are such an idiot", "mail me: bo@example.org"], ids=["toxic", "email"])
def test_a_text_needing_review_is_pending_with_the_redacted_text(engine: sa.Engine, text: str) -> None:
    verdict = _verdict(engine, _event(_session(text)))
    assert verdict.screening.outcome == PENDING_REVIEW
    assert verdict.screening.flag_id
    assert verdict.screening.review_id
    assert "bo@example.org" not in verdict.redacted_text
    assert verdict.redacted_text in {"you are such an idiot", "mail me: [EMAIL]"}


def test_an_unsafe_text_without_review_travels_no_further(engine: sa.Engine) -> None:
    verdict = _verdict(engine, _event(_session(SPAM)))
    assert verdict.screening.outcome == UNSAFE
    assert verdict.screening.flag_id
    assert verdict.redacted_text == ""


def test_flag_and_verdict_are_recorded_together_in_the_outbox(engine: sa.Engine) -> None:
    _deliver(engine, _event(_session("you are such an idiot")))
    with db.UnitOfWork(engine).begin() as session:
        types = [e.type for e in events.pending(session)]
    assert sorted(types) == ["safety.flag.raised", "safety.text.screened"]


@pytest.mark.parametrize("text", ["Lovely session.", "you are such an idiot", SPAM], ids=["clean", "review", "unsafe"])
def test_a_redelivered_or_repeated_source_text_is_announced_once(engine: sa.Engine, text: str) -> None:
    envelope = _event(_session(text))
    _deliver(engine, envelope)
    _deliver(engine, envelope)
    _deliver(engine, _event(_session(text)))
    _deliver(engine, _event(_session("An edited text of the same session.")))
    assert len(_screened(engine)) == 1


def test_each_tenant_and_each_source_gets_its_own_verdict(engine: sa.Engine) -> None:
    _deliver(engine, _event(_session("Lovely session."), tenant="acme"))
    _deliver(engine, _event(_session("Lovely session."), tenant="globex"))
    _deliver(engine, _event(_session("Lovely session.", session_id="s2"), tenant="acme"))
    rating = kintell_events.RatingCreated(rating_id="s1", feedback_text="Lovely session.", participant=PARTICIPANT_REF)
    _deliver(engine, _event(rating, tenant="acme"))
    assert sorted((e.tenant, e.subject) for e in _screened(engine)) == [
        ("acme", "s1"),
        ("acme", "s1"),
        ("acme", "s2"),
        ("globex", "s1"),
    ]


def test_the_author_is_the_one_who_wrote_the_text(engine: sa.Engine) -> None:
    checkin = buddy_events.CheckInCompleted(
        checkin_id="c1",
        notes="Fine week.",
        question_responses=[buddy_pb2.QuestionResponse(question="How?", answer="Good.")],
        person_role=types_pb2.PERSON_ROLE_VOLUNTEER,
        participant=PARTICIPANT_REF,
        buddy=VOLUNTEER_REF,
    )
    verdict = _verdict(engine, _event(checkin))
    assert verdict.profile_id == VOLUNTEER
    assert verdict.redacted_text == "Fine week.\n\nGood."
    assert verdict.source_text_type == types_pb2.TEXT_SOURCE_TYPE_BUDDY_CHECKIN_NOTES


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        (types_pb2.PersonRef(email=" Ana@Example.org ", profile_id="not-a-uuid"), "email"),
        (types_pb2.PersonRef(email="ana@example.org"), "email"),
        (types_pb2.PersonRef(profile_id="not-a-uuid"), ""),
        (types_pb2.PersonRef(), ""),
    ],
    ids=["malformed-id", "no-id", "malformed-id-no-email", "nobody"],
)
def test_an_unresolved_author_is_named_by_the_profile_id_of_their_email(
    engine: sa.Engine, author: types_pb2.PersonRef, expected: str
) -> None:
    verdict = _verdict(engine, _event(_session("Lovely session.", participant=author)))
    derived = profile_id_for_email("acme", "ana@example.org") if expected == "email" else ""
    assert verdict.profile_id == derived


def test_a_text_without_a_record_id_is_screened_but_not_announced(engine: sa.Engine) -> None:
    _deliver(engine, _event(_session("you are such an idiot", session_id="")))
    with db.UnitOfWork(engine).begin() as session:
        assert [e.type for e in events.pending(session)] == ["safety.flag.raised"]


def test_empty_malformed_oversized_or_tenantless_texts_announce_nothing(engine: sa.Engine) -> None:
    _deliver(engine, _event(_session("   ")))
    _deliver(engine, _event(buddy_events.CheckInCompleted(checkin_id="c2")))
    with pytest.raises(InvalidSafetyRequest, match="tenant"):
        _deliver(engine, _event(_session("Lovely session."), tenant=""))
    with pytest.raises(InvalidScreening):
        _deliver(engine, _event(_session("a" * 20_001)))
    assert _screened(engine) == []
