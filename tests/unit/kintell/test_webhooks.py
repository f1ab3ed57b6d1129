"""Kintell webhooks: strict JSON, replay de-duplication per tenant, state transitions and events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from services.kintell import handlers, queries
from services.kintell.domain.commands import GetSession, ListSessions, ReceiveWebhook
from services.kintell.domain.errors import DeliveryConflict, InvalidWebhook, SessionNotFound, SessionTypeConflict
from services.kintell.domain.model import RaterRole, Session
from services.kintell.repository import KintellUnitOfWork
from services.kit.connectors.deliveries import Ack
from services.kit.messaging import events
from services.kit.persistence import db
from teei.common.v1 import types_pb2
from tests.unit.kintell.samples import booking_body, rating_body, session_body


def _completed(body: bytes, uow: KintellUnitOfWork, company: str = "acme") -> Ack:
    return handlers.receive_session_completed(ReceiveWebhook(company, body), uow=uow)


def _booked(body: bytes, uow: KintellUnitOfWork, company: str = "acme") -> Ack:
    return handlers.receive_booking_confirmed(ReceiveWebhook(company, body), uow=uow)


def _rated(body: bytes, uow: KintellUnitOfWork, company: str = "acme") -> Ack:
    return handlers.receive_rating_created(ReceiveWebhook(company, body), uow=uow)


def _pending(engine: sa.Engine) -> list[events.Envelope]:
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session, limit=100)


def _only_session(uow: KintellUnitOfWork, company: str = "acme") -> Session:
    [(session, _)] = queries.list_sessions(ListSessions(company), uow=uow).sessions
    return session


def test_session_completed_stores_the_session_and_emits_completed(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    ack = _completed(session_body(), uow)
    assert (ack.delivery_id, ack.duplicate) == ("d-1", False)
    session = _only_session(uow)
    assert session.facts.participant.external_id == "kin-p-7"
    assert session.facts.participant.given_name == "Pia"
    assert session.facts.completed_at == datetime(2026, 3, 1, 10, tzinfo=UTC)  # +01:00 stored as UTC
    assert session.facts.metadata == {"room": "blue"}
    [envelope] = _pending(engine)
    payload = events.payload_of(envelope)
    assert envelope.type == "kintell.session.completed"
    assert (payload.participant.external_id, payload.volunteer.external_id) == ("kin-p-7", "kin-v-3")
    assert (payload.rating, payload.language_level) == (0.5, types_pb2.CEFR_LEVEL_A2)
    assert payload.provenance.channel == types_pb2.INGEST_CHANNEL_WEBHOOK
    assert payload.provenance.delivery_id == "d-1"


def test_a_replayed_delivery_is_acknowledged_as_duplicate_and_applied_once(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    _completed(session_body(), uow)
    ack = _completed(session_body(), uow)
    assert ack.duplicate
    assert len(_pending(engine)) == 1


def test_a_delivery_id_reused_with_another_body_is_a_conflict(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _completed(session_body(), uow)
    with pytest.raises(DeliveryConflict) as caught:
        _completed(session_body(feedback_text="changed"), uow)
    assert caught.value.violations[0].field == "webhook-id"
    assert _only_session(uow).facts.feedback_text == "We talked about work"


def test_the_signed_webhook_id_keys_the_delivery_not_the_body_id(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    def deliver(message_id: str) -> Ack:
        return handlers.receive_session_completed(ReceiveWebhook("acme", session_body(), message_id), uow=uow)

    assert deliver("msg_1") == Ack("msg_1", duplicate=False)
    assert deliver("msg_2") == Ack("msg_2", duplicate=False)  # same body id "d-1", another delivery
    assert deliver("msg_1") == Ack("msg_1", duplicate=True)
    [envelope] = _pending(engine)
    assert events.payload_of(envelope).provenance.delivery_id == "msg_1"


def test_an_unsigned_delivery_without_a_body_id_is_refused(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    document = json.loads(session_body())
    del document["delivery_id"]
    with pytest.raises(InvalidWebhook) as caught:
        _completed(json.dumps(document).encode(), uow)
    assert [v.field for v in caught.value.violations] == ["delivery_id"]
    assert _pending(engine) == []


def test_delivery_ids_are_per_tenant(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _completed(session_body(), uow, company="acme")
    ack = _completed(session_body(), uow, company="globex")
    assert not ack.duplicate
    assert {_only_session(uow, c).company_id for c in ("acme", "globex")} == {"acme", "globex"}
    assert [e.tenant for e in _pending(engine)] == ["acme", "globex"]


def test_booking_then_completion_emits_scheduled_then_completed(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _booked(booking_body(), uow)
    assert _only_session(uow).facts.completed_at is None
    _completed(session_body(), uow)
    _booked(booking_body("b-2", scheduled_at="2026-03-05T10:00:00Z"), uow)  # late booking of a completed session
    session = _only_session(uow)
    assert session.facts.completed_at is not None
    assert [e.type for e in _pending(engine)] == ["kintell.session.scheduled", "kintell.session.completed"]


def test_a_session_reported_with_the_other_type_is_a_conflict(uow: KintellUnitOfWork) -> None:
    _booked(booking_body(), uow)
    with pytest.raises(SessionTypeConflict):
        _completed(session_body("d-9", session_type="mentorship"), uow)
    # Refused deliveries are not recorded: a corrected retry of the same id is applied.
    _completed(session_body("d-9"), uow)
    assert _only_session(uow).facts.completed_at is not None


def test_rating_created_stores_a_normalised_rating_and_emits_it(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    _completed(session_body(), uow)
    _rated(rating_body(), uow)
    session, [rating] = queries.get_session(GetSession("acme", _only_session(uow).session_id), uow=uow)
    assert (rating.rater_role, rating.rating, rating.external_rating_id) == (RaterRole.VOLUNTEER, 0.75, "kr-1")
    envelope = _pending(engine)[-1]
    payload = events.payload_of(envelope)
    assert envelope.type == "kintell.rating.created"
    assert (payload.rating, payload.feedback_text, payload.session_id) == (
        0.75,
        "Motivated learner",
        session.session_id,
    )
    assert payload.rater_role == types_pb2.PERSON_ROLE_VOLUNTEER
    assert payload.participant.email == "p@example.org"


def test_a_zero_to_one_rating_by_the_participant_is_kept_as_is(uow: KintellUnitOfWork) -> None:
    _completed(session_body(), uow)
    _rated(rating_body(rater_role="participant", value=0.9, scale="0-1", rating_id=None, created_at=None), uow)
    _, [rating] = queries.get_session(GetSession("acme", _only_session(uow).session_id), uow=uow)
    assert (rating.rater_role, rating.rating, rating.external_rating_id) == (RaterRole.PARTICIPANT, 0.9, "")


def test_a_rating_id_delivered_twice_under_new_delivery_ids_is_stored_once(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    _completed(session_body(), uow)
    _rated(rating_body("r-1"), uow)
    assert _rated(rating_body("r-2"), uow).duplicate
    assert [e.type for e in _pending(engine)].count("kintell.rating.created") == 1


def test_a_rating_of_an_unknown_session_is_not_found_and_can_be_retried(uow: KintellUnitOfWork) -> None:
    with pytest.raises(SessionNotFound):
        _rated(rating_body(), uow)
    _completed(session_body(), uow)
    assert not _rated(rating_body(), uow).duplicate


def test_a_rating_cannot_reach_another_tenants_session(uow: KintellUnitOfWork) -> None:
    _completed(session_body(), uow, company="acme")
    with pytest.raises(SessionNotFound):
        _rated(rating_body(), uow, company="globex")


def _fields(error: pytest.ExceptionInfo[InvalidWebhook]) -> list[str]:
    return [v.field for v in error.value.violations]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"", ["body"]),
        (b"   ", ["body"]),
        (b"{not json", ["body"]),
        (b"[1, 2]", ["body"]),
        (b'{"delivery_id": "a", "delivery_id": "b"}', ["body"]),
        (b'{"delivery_id": NaN}', ["body"]),
        ('{"delivery_id": "caf\xe9"}'.encode("latin-1"), ["body"]),
        (b"{}", ["session"]),
        (session_body(delivery_id=""), ["delivery_id"]),
        (session_body(session_id="x" * 256), ["session.session_id"]),
        (session_body(session_type="buddy"), ["session.session_type"]),
        (session_body(participant={"email": "nope"}), ["session.participant.email"]),
        (session_body(volunteer={"email": "v@corp.com", "phone": "1"}), ["session.volunteer.phone"]),
        (session_body(scheduled_at="tomorrow"), ["session.scheduled_at"]),
        (session_body(completed_at=None), ["session.completed_at"]),
        (session_body(completed_at="2026-02-01T00:00:00Z"), ["session.completed_at"]),
        (session_body(duration_minutes=0), ["session.duration_minutes"]),
        (session_body(duration_minutes="60"), ["session.duration_minutes"]),
        (session_body(duration_minutes=True), ["session.duration_minutes"]),
        (session_body(rating=1.5), ["session.rating"]),
        (session_body(feedback_text="x" * 5001), ["session.feedback_text"]),
        (session_body(language_level="Z9"), ["session.language_level"]),
        (session_body(topics="work"), ["session.topics"]),
        (session_body(topics=["w" * 600, "x" * 600]), ["session.topics"]),
        (session_body(metadata={"k": "v" * 2000}), ["session.metadata"]),
        (session_body(extra=1), ["session.extra"]),
        (session_body(participant={"email": "n\u0000ul@example.org"}), ["session.participant.email"]),
        (session_body(feedback_text="good\u0000"), ["session.feedback_text"]),
        (session_body(topics=["work", "\u001bhousing"]), ["session.topics"]),
        (session_body(session_id="k-\u0085"), ["session.session_id"]),
        (session_body(session_id="k-1\tk-2"), ["session.session_id"]),
        (session_body(volunteer={"email": "v@corp.com", "given_name": "Vi\nc"}), ["session.volunteer.given_name"]),
    ],
)
def test_malformed_session_completed_is_refused_naming_the_fields(
    body: bytes, fields: list[str], uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    with pytest.raises(InvalidWebhook) as caught:
        _completed(body, uow)
    assert _fields(caught) == fields
    assert _pending(engine) == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (booking_body(completed_at="2026-03-01T11:00:00Z"), ["session.completed_at"]),
        (booking_body(rating=0.5), ["session.rating"]),
        (booking_body(session_id=None, participant=None), ["session.session_id", "session.participant"]),
    ],
)
def test_malformed_booking_is_refused_naming_the_fields(body: bytes, fields: list[str], uow: KintellUnitOfWork) -> None:
    with pytest.raises(InvalidWebhook) as caught:
        _booked(body, uow)
    assert sorted(_fields(caught)) == sorted(fields)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"value": 6}, ["rating.value"]),
        ({"value": 0.5}, ["rating.value"]),
        ({"value": 1.2, "scale": "0-1"}, ["rating.value"]),
        ({"scale": "1-10"}, ["rating.scale"]),
        ({"scale": None}, ["rating.scale"]),
        ({"value": "4"}, ["rating.value"]),
        ({"rater_role": "buddy"}, ["rating.rater_role"]),
        ({"session_id": None}, ["rating.session_id"]),
        ({"created_at": "yesterday"}, ["rating.created_at"]),
        ({"feedback_text": "x" * 5001}, ["rating.feedback_text"]),
        ({"stars": 5}, ["rating.stars"]),
    ],
)
def test_malformed_rating_is_refused_naming_the_fields(
    changes: dict[str, Any], fields: list[str], uow: KintellUnitOfWork
) -> None:
    _completed(session_body(), uow)
    with pytest.raises(InvalidWebhook) as caught:
        _rated(rating_body(**changes), uow)
    assert _fields(caught) == fields


def test_an_oversized_body_is_refused_before_parsing(uow: KintellUnitOfWork, engine: sa.Engine) -> None:
    body = json.dumps({"delivery_id": "big", "session": {"feedback_text": "x" * (1024 * 1024)}}).encode()
    with pytest.raises(InvalidWebhook, match="larger than 1048576 bytes"):
        _completed(body, uow)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM kintell_webhook_deliveries")).scalar_one() == 0


def test_a_nul_in_feedback_is_refused_with_a_message_naming_the_field(
    uow: KintellUnitOfWork, engine: sa.Engine
) -> None:
    with pytest.raises(InvalidWebhook) as caught:
        _completed(session_body(feedback_text="we talked\u0000"), uow)
    assert caught.value.message == (
        "the session-completed payload is invalid: "
        "session.feedback_text must not contain control characters (U+0000 at character 10)"
    )
    assert _pending(engine) == []


def test_tabs_and_line_breaks_in_feedback_are_kept(uow: KintellUnitOfWork) -> None:
    _completed(session_body(feedback_text="line one\r\n\tline two"), uow)
    assert _only_session(uow).facts.feedback_text == "line one\r\n\tline two"
