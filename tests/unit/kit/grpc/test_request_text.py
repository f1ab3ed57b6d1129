"""Control characters in request messages: every string field is found and named by its path; bytes
and HttpBody payloads are left to their parsers."""

from __future__ import annotations

import pytest
from google.api import httpbody_pb2
from google.protobuf import struct_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from services.kit.grpc import request_text
from teei.kintell.v1 import kintell_pb2
from teei.profile.v1 import profile_pb2


def _named(message: Message) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in request_text.control_violations(message)]


def _fields(message: Message) -> list[str]:
    return [field for field, _ in _named(message)]


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f"])
def test_a_control_character_in_a_nested_string_is_named_by_its_path(control: str) -> None:
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=f"n{control}ul@example.org"))
    assert _named(request) == [
        ("profile.email", f"must not contain control characters (U+{ord(control):04X} at character 2)")
    ]


def test_tab_and_line_breaks_pass_and_clean_requests_have_no_violation() -> None:
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="a@b.org", given_name="A\tb\r\nc"))
    assert _named(request) == []
    assert _named(profile_pb2.CreateProfileRequest()) == []


def test_repeated_strings_and_repeated_messages_are_named_by_position() -> None:
    session = kintell_pb2.Session(topics=["work", "hous\x00ing"], goals_discussed=["\x07"])
    assert _fields(session) == ["topics[1]", "goals_discussed[0]"]
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="a", description="ok"),
            error_details_pb2.BadRequest.FieldViolation(field="b", description="no\x00"),
        ]
    )
    assert _fields(bad_request) == ["field_violations[1].description"]


def test_map_values_and_keys_are_named_by_their_key() -> None:
    info = error_details_pb2.ErrorInfo(metadata={"fine": "v\x00", "b\x1bad": "ok"})
    assert _named(info) == [
        ('metadata["b\\u001bad"]', "its key must not contain control characters (U+001B at character 2)"),
        ('metadata["fine"]', "must not contain control characters (U+0000 at character 2)"),
    ]


def test_a_map_key_may_not_hold_a_line_break_as_free_text_may() -> None:
    info = error_details_pb2.ErrorInfo(metadata={"a\nb": "x\ny"})
    assert _fields(info) == ['metadata["a\\u000ab"]']


def test_a_struct_is_named_as_its_json_is() -> None:
    metadata = struct_pb2.Struct()
    metadata.update({"room": "blue\x00", "tags": ["a", "\x7f"], "nested": {"deep": "\x01"}, "n": 1})
    assert _fields(kintell_pb2.Session(metadata=metadata)) == [
        'metadata["nested"]["deep"]',
        'metadata["room"]',
        'metadata["tags"][1]',
    ]


def test_http_bodies_and_bytes_are_left_to_their_parsers() -> None:
    body = httpbody_pb2.HttpBody(content_type="text/csv\x00", data=b"a\x00b")
    assert _named(kintell_pb2.ImportSessionsRequest(body=body)) == []


def test_many_violations_are_reported_up_to_a_bound() -> None:
    session = kintell_pb2.Session(topics=["\x00"] * 100)
    assert len(request_text.control_violations(session)) == request_text.MAX_VIOLATIONS
