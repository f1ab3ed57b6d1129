"""Webhook payloads: strict JSON per kind, every bad field named, records stored like CSV rows, keyed by the
signed webhook-id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.buddy import handlers, queries
from services.buddy.domain.commands import ListRecords, ReceiveWebhook, RecordFilter
from services.buddy.domain.csv_schemas import SPECS, FeedbackRow
from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.domain.model import BuddyEvent, CheckIn, Feedback, Match
from services.buddy.domain.webhooks import parse_delivery
from services.buddy.repository import SqlBuddyUnitOfWork
from services.kit.connectors.deliveries import Ack
from services.kit.connectors.model import Channel
from tests.unit.buddy.samples import data_of, delivery

TYPES = {"matches": Match, "events": BuddyEvent, "checkins": CheckIn, "feedback": Feedback}


def _violations(kind: str, body: bytes, **limits: int) -> list[str]:
    with pytest.raises(InvalidBuddyRequest) as caught:
        parse_delivery(SPECS[kind], body, **limits)
    return [v.field for v in caught.value.violations]


def _body(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("kind", ["matches", "events", "checkins", "feedback"])
def test_each_kind_is_stored_from_its_webhook(uow: SqlBuddyUnitOfWork, kind: str) -> None:
    if kind != "matches":
        handlers.receive_webhook(ReceiveWebhook("acme", "matches", delivery("matches", "d-0")), uow=uow)
    ack = handlers.receive_webhook(ReceiveWebhook("acme", kind, delivery(kind, "d-1")), uow=uow)
    assert (ack.delivery_id, ack.duplicate) == ("d-1", False)
    (record,) = queries.list_records(ListRecords("acme", kind, RecordFilter()), uow=uow)[0]
    assert isinstance(record, TYPES[kind])
    assert (record.provenance.channel, record.provenance.delivery_id) == (Channel.WEBHOOK, "d-1")


def test_typed_values_are_read_like_csv_cells() -> None:
    parsed = parse_delivery(SPECS["feedback"], delivery("feedback", rating=1, helpfulness=0)).data
    assert isinstance(parsed, FeedbackRow)
    assert (parsed.rating, parsed.helpfulness, parsed.engagement) == (1.0, 0.0, None)
    assert parsed.author_email == "bob@example.org"


@pytest.mark.parametrize(
    ("kind", "changes", "fields"),
    [
        ("feedback", {"rating": "0.5"}, ["data.rating"]),
        ("feedback", {"rating": True}, ["data.rating"]),
        ("feedback", {"rating": 1.01, "communication": -1}, ["data.rating", "data.communication"]),
        ("feedback", {"author_email": "bob"}, ["data.author_email"]),
        ("feedback", {"feedback_text": "x" * 5001}, ["data.feedback_text"]),
        ("checkins", {"mood": "fine"}, ["data.mood"]),
        ("checkins", {"mood": 1}, ["data.mood"]),
        ("checkins", {"question_responses": ["twice"]}, ["data.question_responses"]),
        ("events", {"attendee_emails": "ada@example.org"}, ["data.attendee_emails"]),
        ("events", {"attendee_emails": []}, ["data.attendee_emails"]),
        ("events", {"attendee_emails": ["ada@example.org", 7]}, ["data.attendee_emails"]),
        ("matches", {"match_id": None, "matched_at": "soon"}, ["data.match_id", "data.matched_at"]),
        ("matches", {"surprise": 1}, ["data.surprise"]),
    ],
)
def test_bad_fields_are_named(kind: str, changes: dict[str, Any], fields: list[str]) -> None:
    document = {"delivery_id": "d-1", "data": {k: v for k, v in {**data_of(kind), **changes}.items() if v is not None}}
    assert sorted(_violations(kind, _body(document))) == sorted(fields)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"", ["body"]),
        (b"\xff{}", ["body"]),
        (b"[1]", ["body"]),
        (b'{"delivery_id": "a", "delivery_id": "b", "data": {}}', ["body"]),
        (b'{"delivery_id": "d", "data": {"rating": NaN}}', ["body"]),
        (b'{"delivery_id": "d"', ["body"]),
        (_body({"delivery_id": 5, "data": data_of("matches")}), ["delivery_id"]),
        (_body({"delivery_id": "d", "data": "x"}), ["data"]),
        (_body({"delivery_id": "d", "event": "x", "data": data_of("matches")}), ["event"]),
    ],
)
def test_malformed_envelopes_are_refused(body: bytes, fields: list[str]) -> None:
    assert _violations("matches", body) == fields


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    body = delivery("matches")
    assert _violations("matches", body, max_bytes=len(body) - 1) == ["body"]


def test_an_oversized_delivery_is_refused_by_the_handler(uow: SqlBuddyUnitOfWork) -> None:
    body = delivery("matches")
    with pytest.raises(InvalidBuddyRequest, match="larger"):
        handlers.receive_webhook(
            ReceiveWebhook("acme", "matches", body), uow=uow, limits=handlers.Limits(webhook_bytes=len(body) - 1)
        )


def test_the_signed_webhook_id_keys_the_delivery_not_the_body_id(uow: SqlBuddyUnitOfWork) -> None:
    def deliver(message_id: str) -> Ack:
        return handlers.receive_webhook(ReceiveWebhook("acme", "matches", delivery("matches"), message_id), uow=uow)

    assert deliver("msg_1") == Ack("msg_1", duplicate=False)
    assert deliver("msg_2") == Ack("msg_2", duplicate=False)  # same body id "d-1", another delivery
    assert deliver("msg_1") == Ack("msg_1", duplicate=True)
    (record,) = queries.list_records(ListRecords("acme", "matches", RecordFilter()), uow=uow)[0]
    assert record.provenance.delivery_id == "msg_1"


def test_a_body_without_delivery_id_parses_but_an_unsigned_one_is_refused(uow: SqlBuddyUnitOfWork) -> None:
    body = _body({"data": data_of("matches")})
    assert parse_delivery(SPECS["matches"], body).delivery_id == ""
    with pytest.raises(InvalidBuddyRequest) as caught:
        handlers.receive_webhook(ReceiveWebhook("acme", "matches", body), uow=uow)
    assert [v.field for v in caught.value.violations] == ["delivery_id"]
    assert handlers.receive_webhook(ReceiveWebhook("acme", "matches", body, "msg_9"), uow=uow).delivery_id == "msg_9"
