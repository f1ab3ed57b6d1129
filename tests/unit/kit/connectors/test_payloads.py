"""Webhook bodies through pydantic: body faults name `body`, every bad field is named by its path, and
unknown, repeated or wrongly typed values are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Self

import pytest
from pydantic import model_validator

from services.kit.connectors import fields, payloads
from services.kit.connectors.payloads import Payload
from services.kit.errors import InvalidArgument


class Refused(InvalidArgument):
    """The error a connector raises for a bad body."""

    reason = "REFUSED"


class Person(Payload):
    """A nested object."""

    email: Annotated[str, fields.EMAIL]
    name: Annotated[str, fields.text(5)] = ""


class Delivery(Payload):
    """A delivery with every kind of field."""

    id: Annotated[str, fields.text(10)]
    person: Person
    at: Annotated[datetime, fields.TIMESTAMP]
    score: Annotated[float, fields.within(0, 1)] | None = None
    count: int = 0
    tags: Annotated[tuple[Annotated[str, fields.text(3)], ...], fields.LIST] = ()
    until: Annotated[datetime, fields.TIMESTAMP] | None = None

    @model_validator(mode="after")
    def _until_after_at(self) -> Self:
        if self.until is not None and self.until < self.at:
            raise payloads.fault("must not be before at", field="until")
        return self


GOOD = {"id": "d-1", "person": {"email": "Ada@Example.org"}, "at": "2026-03-01"}


def _fields(document: object) -> list[str]:
    with pytest.raises(Refused) as refused:
        payloads.read(Delivery, json.dumps(document).encode(), invalid=Refused)
    return [v.field for v in refused.value.violations]


def test_a_valid_body_is_read_with_the_cell_rules() -> None:
    delivery = payloads.read(Delivery, json.dumps({**GOOD, "tags": ["a", " b "], "count": 2}).encode(), invalid=Refused)
    assert (delivery.person.email, delivery.at, delivery.tags) == (
        "ada@example.org",
        datetime(2026, 3, 1, tzinfo=UTC),
        ("a", "b"),
    )


@pytest.mark.parametrize(
    ("changes", "fields_named"),
    [
        ({"surprise": 1}, ["surprise"]),
        ({"person": {"email": "a@b.org", "phone": "1"}}, ["person.phone"]),
        ({"person": {"email": "nope"}}, ["person.email"]),
        ({"person": "ada"}, ["person"]),
        ({"id": None, "at": "soon"}, ["id", "at"]),
        ({"id": "   "}, ["id"]),
        ({"score": "0.5"}, ["score"]),
        ({"score": True}, ["score"]),
        ({"score": 1.5}, ["score"]),
        ({"count": 1.0}, ["count"]),
        ({"tags": "abc"}, ["tags"]),
        ({"tags": ["abc", 7]}, ["tags"]),
        ({"until": "2026-02-01"}, ["until"]),
    ],
)
def test_every_bad_field_is_named_by_its_path(changes: dict[str, object], fields_named: list[str]) -> None:
    assert _fields({**GOOD, **changes}) == fields_named


def test_descriptions_say_what_is_wrong() -> None:
    with pytest.raises(Refused) as refused:
        payloads.read(Delivery, json.dumps({**GOOD, "x": 1, "tags": ["a", 7], "id": None}).encode(), invalid=Refused)
    described = {v.field: v.description for v in refused.value.violations}
    assert described == {"id": "is required", "tags": "item 2 must be a string", "x": "is not a known field"}


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (b"", "is empty"),
        (b"  ", "is empty"),
        (b"\xff{}", "is not UTF-8"),
        (b"[1]", "must be a JSON object"),
        (b"{not json", "is not valid JSON"),
        (b'{"id": "a", "id": "b"}', "duplicate key id"),
        (b'{"score": NaN}', "NaN is not a JSON number"),
    ],
)
def test_bodies_that_are_not_one_json_object_name_the_body(body: bytes, description: str) -> None:
    with pytest.raises(Refused) as refused:
        payloads.read(Delivery, body, invalid=Refused)
    [violation] = refused.value.violations
    assert violation.field == "body"
    assert description in violation.description


def test_an_oversized_body_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(Refused, match="larger than 10 bytes"):
        payloads.read(Delivery, json.dumps(GOOD).encode(), invalid=Refused, max_bytes=10)


def _refused(document: object) -> Refused:
    with pytest.raises(Refused) as refused:
        payloads.read(Delivery, json.dumps(document).encode(), invalid=Refused)
    return refused.value


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1f", "\x7f", "\x9b"])
def test_a_control_character_in_any_string_is_refused_naming_the_field(control: str) -> None:
    refused = _refused({**GOOD, "person": {"email": f"n{control}ul@example.org"}})
    [violation] = refused.violations
    assert violation.field == "person.email"
    assert violation.description == f"must not contain control characters (U+{ord(control):04X} at character 2)"
    assert refused.message.startswith("the webhook payload is invalid: person.email must not contain")


def test_a_control_character_in_a_list_or_an_unknown_field_or_a_name_is_refused_too() -> None:
    refused = _refused({**GOOD, "tags": ["a", "b\x00"], "extra": {"deep": ["x", {"y": "\x00"}]}, "i\x00d": 1})
    assert [(v.field, v.description) for v in refused.violations] == [
        ("tags", "item 2 must not contain control characters (U+0000 at character 2)"),
        ("extra.deep", "item 2 y must not contain control characters (U+0000 at character 1)"),
        ("i\\u0000d", "its name must not contain control characters (U+0000 at character 2)"),
    ]


def test_a_control_character_the_trim_would_drop_is_refused_as_sent() -> None:
    assert _fields({**GOOD, "id": "d-1\x85"}) == ["id"]


def test_tab_and_line_breaks_stay_allowed_in_free_text() -> None:
    delivery = payloads.read(
        Delivery, json.dumps({**GOOD, "person": {"email": "a@b.org", "name": "a\tb\nc"}}).encode(), invalid=Refused
    )
    assert delivery.person.name == "a\tb\nc"


def test_a_single_line_field_refuses_tab_and_line_breaks() -> None:
    class Named(Payload):
        """A payload with an id."""

        id: Annotated[str, fields.line(10)]

    with pytest.raises(Refused) as refused:
        payloads.read(Named, b'{"id": "a\\tb"}', invalid=Refused)
    assert [(v.field, v.description) for v in refused.value.violations] == [
        ("id", "must not contain control characters (U+0009 at character 2)")
    ]


def test_many_control_characters_are_reported_up_to_a_bound() -> None:
    refused = _refused({**GOOD, "tags": ["\x00"] * 500})
    assert len(refused.violations) == payloads.MAX_VIOLATIONS


def test_the_message_of_a_refused_payload_names_the_fields() -> None:
    refused = _refused({**GOOD, "person": {"email": "nope"}, "score": 2})
    assert refused.message == (
        "the webhook payload is invalid: person.email is not a valid e-mail address; score must be between 0 and 1"
    )
