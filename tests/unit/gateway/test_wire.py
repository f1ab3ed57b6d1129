"""Reading the token request: form or JSON body, proto fields, HTTP Basic; malformed and oversized input."""

from __future__ import annotations

import base64

import pytest
from google.api import httpbody_pb2

from services.gateway import wire
from services.gateway.domain.commands import IssueToken
from services.gateway.domain.errors import InvalidClient, InvalidTokenRequest
from teei.gateway.v1 import gateway_pb2

FORM = "application/x-www-form-urlencoded"


def _request(data: bytes = b"", content_type: str = FORM, **fields: str) -> gateway_pb2.IssueTokenRequest:
    body = httpbody_pb2.HttpBody(content_type=content_type, data=data)
    return gateway_pb2.IssueTokenRequest(body=body, **fields)


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_form_body() -> None:
    data = b"grant_type=client_credentials&client_id=acme-sync&client_secret=s%2Bcret&scope=a+b"
    assert wire.issue_token(_request(data, FORM + "; charset=utf-8"), {}) == IssueToken(
        "client_credentials", "acme-sync", "s+cret", "a b", ""
    )


def test_json_body_overrides_fields() -> None:
    data = b'{"grant_type": "client_credentials", "client_id": "from-body", "client_secret": "x", "extra": 1}'
    parsed = wire.issue_token(_request(data, "application/json", client_id="from-field", scope="s"), {})
    assert (parsed.client_id, parsed.scope) == ("from-body", "s")


def test_fields_alone_for_grpc_callers() -> None:
    request = gateway_pb2.IssueTokenRequest(grant_type="client_credentials", client_id="c", client_secret="s")
    assert wire.issue_token(request, {}).client_secret == "s"


def test_basic_credentials_are_form_decoded() -> None:
    parsed = wire.issue_token(_request(b"grant_type=client_credentials"), _basic("acme%3Async", "a+b%25"))
    assert (parsed.client_id, parsed.client_secret) == ("acme:sync", "a b%")


def test_basic_with_a_secret_in_the_body_too_is_refused() -> None:
    data = b"grant_type=client_credentials&client_secret=x"
    with pytest.raises(InvalidTokenRequest, match="one client authentication"):
        wire.issue_token(_request(data), _basic("c", "s"))


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_malformed_basic_is_invalid_client(header: str) -> None:
    with pytest.raises(InvalidClient):
        wire.issue_token(_request(b"grant_type=client_credentials"), {"authorization": header})


def test_bearer_header_is_not_client_authentication() -> None:
    assert wire.issue_token(_request(b"client_id=c"), {"authorization": "Bearer abc"}).client_id == "c"


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"x" * (wire.MAX_BODY_BYTES + 1), FORM, "exceeds"),
        (b"\xff\xfe", FORM, "UTF-8"),
        (b"grant_type", FORM, "form-encoded"),
        (b"client_id=a&client_id=b", FORM, "repeated"),
        (b"{not json", "application/json", "JSON"),
        (b"[1, 2]", "application/json", "object"),
        (b'{"client_id": 5}', "application/json", "wrong type"),
        (b"grant_type=client_credentials", "text/plain", "form-urlencoded or application/json"),
        (b"client_id=" + b"c" * 129, FORM, "too long"),
        (b"&".join(b"k%d=v" % i for i in range(40)), FORM, "form-encoded"),
    ],
)
def test_malformed_bodies_are_invalid_requests(data: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidTokenRequest, match=message) as caught:
        wire.issue_token(_request(data, content_type), {})
    assert caught.value.metadata == {"error": "invalid_request"}


@pytest.mark.parametrize(
    ("data", "content_type", "metadata", "field"),
    [
        (b"grant_type=client_credentials&client_id=acme%00sync&client_secret=s", FORM, {}, "client_id"),
        (b"grant_type=client_credentials&client_secret=hunter%0A2", FORM, {}, "client_secret"),
        (b'{"grant_type": "client_credentials", "scope": "a\\u001bb"}', "application/json", {}, "scope"),
        (b"grant_type=client_credentials", FORM, _basic("acme\x7fsync", "s"), "client_id"),
    ],
)
def test_a_control_character_in_a_body_value_is_refused_naming_the_field_not_the_value(
    data: bytes, content_type: str, metadata: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidTokenRequest) as caught:
        wire.issue_token(_request(data, content_type), metadata)
    assert [v.field for v in caught.value.violations] == [field]
    assert caught.value.message.startswith(f"{field} must not contain control characters")
    assert "hunter" not in caught.value.message


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"client_id=" + b"c" * 129, FORM, "client_id must be at most 128 characters"),
        (b'{"client_id": 5}', "application/json", "client_id must be a string"),
    ],
)
def test_refusals_of_body_fields_name_them_in_the_message(data: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidTokenRequest) as caught:
        wire.issue_token(_request(data, content_type), {})
    assert message in caught.value.message
