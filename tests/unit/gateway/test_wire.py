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
