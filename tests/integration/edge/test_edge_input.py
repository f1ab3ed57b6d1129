"""What the edge refuses in a request, and how, against the real Envoy (conftest.py).

Header and URL limits agree with the services' gRPC metadata limit, so an oversize request is the
edge's 431/414, never a service's RESOURCE_EXHAUSTED (which the transcoder turned into a 429 naming
internal headers). Unknown JSON body fields are refused with 400 naming the field, on every REST
body but the raw ones (CSV imports, webhooks). Paths the edge will not normalise get a 400 that
says why. Every refusal is the edge's own JSON google.rpc.Status with a message, and none of them
reaches the service.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from services.cli.edge import PATH_REFUSED_MESSAGE
from services.cli.edge_settings import EdgeSettings
from teei.kintell.v1 import kintell_pb2
from teei.profile.v1 import profile_pb2
from teei.q2q.v1 import q2q_pb2
from tests.integration.edge.conftest import Edge
from tests.integration.test_edge_config import auth_header

MAX_HEADERS = EdgeSettings.max_request_headers_kb * 1024
MAX_URL = EdgeSettings.max_url_bytes
CREATE_PROFILE = "/teei.profile.v1.ProfileService/CreateProfile"
CLASSIFY = "/teei.q2q.v1.Q2qService/Classify"
UPSERT_ENROLMENT = "/teei.profile.v1.ProfileService/UpsertEnrolment"
# Names of headers the edge or the services use, which a refusal must not echo.
INTERNAL_HEADERS = ("x-envoy", "x-request-id", "x-forwarded", "authorization", "x-padding", ":path")


def _assert_refused(response: httpx.Response, status: int, code: int) -> str:
    """The edge's own JSON google.rpc.Status with a message; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"].strip(), body
    return str(body["message"])


def _json(body: object) -> dict[str, Any]:
    return {"content": json.dumps(body), "headers": {"content-type": "application/json"}}


# --- header and URL limits --------------------------------------------------------------


def test_headers_between_the_grpc_default_and_the_edge_limit_reach_the_service(edge: Edge) -> None:
    """10 and 24 KiB of headers are under the edge's 32 KiB, so the service takes them every time (they
    used to be 429s: at random over gRPC's 8 KiB soft limit, always over its 16 KiB hard one)."""
    for size in (10, 24) * 5:
        response = edge.request("GET", "/v1/profiles/p-1", headers={"x-padding": "a" * size * 1024})
        assert response.status_code == 200, response.text


def test_the_largest_request_the_edge_accepts_reaches_the_service(edge: Edge) -> None:
    """A URL at its limit and headers filling the rest of theirs: what the edge adds on the way (the URL
    again, as x-envoy-original-path) still fits the services' metadata limit."""
    path = "/v1/profiles/" + "p" * (MAX_URL - len("/v1/profiles/"))
    token = auth_header(role="super_admin")
    # As many headers as the edge takes (100, with httpx's own six), filling what the URL leaves.
    room = MAX_HEADERS - MAX_URL - len(token["authorization"]) - 1024
    headers = token | {f"x-pad-{i:02d}": "a" * (room // 90 - 9) for i in range(90)}
    response = edge.request("GET", path, headers=headers)
    assert response.status_code == 200, response.text
    received = edge.upstream.of("/teei.profile.v1.ProfileService/GetProfile")[-1].metadata
    assert received["x-pad-89"] == headers["x-pad-89"]
    assert received["x-envoy-original-path"] == path


@pytest.mark.parametrize("size", [MAX_HEADERS + 1024, 64 * 1024])
def test_oversize_headers_are_431_naming_no_internal_header(edge: Edge, size: int) -> None:
    calls = len(edge.upstream.calls)
    response = edge.request("GET", "/v1/profiles/p-1", headers={"x-padding": "a" * size})
    message = _assert_refused(response, 431, 3)
    assert not any(name in message for name in INTERNAL_HEADERS), message
    assert "x-ratelimit-remaining" not in response.headers
    assert len(edge.upstream.calls) == calls


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v1/profiles/" + "p" * MAX_URL, id="long-path"),
        pytest.param("/v1/profiles?email=" + "e" * MAX_URL, id="long-query"),
        pytest.param("/v1/q2q/classify?" + "x" * (3 * MAX_URL), id="three-times-the-limit"),
    ],
)
def test_a_url_over_the_limit_is_414_naming_no_internal_header(edge: Edge, path: str) -> None:
    calls = len(edge.upstream.calls)
    message = _assert_refused(edge.request("GET", path), 414, 3)
    assert not any(name in message for name in INTERNAL_HEADERS), message
    assert str(MAX_URL) in message
    assert len(edge.upstream.calls) == calls


# --- unknown JSON body fields ---------------------------------------------------------


UNKNOWN_FIELDS = [
    pytest.param("/v1/profiles", {"email": "a@example.org", "is_admin": True}, "is_admin", id="profiles"),
    pytest.param("/v1/profiles/p-1/flags", {"flag": "f", "value": True, "colour": "red"}, "colour", id="flags"),
    pytest.param("/v1/profiles/p-1/counters", {"counter": "c", "delta": 1, "delta2": 1}, "delta2", id="counters"),
    pytest.param("/v1/q2q/classify", {"text": "good", "tenant": "other"}, "tenant", id="q2q-classify"),
    pytest.param(
        "/v1/profiles/p-1/enrolments",
        {"enrolment": {"programme": "PROGRAMME_TYPE_BUDDY", "startTime": "2026-01-01T00:00:00Z", "grade": 1}},
        "enrolment.grade",
        id="nested",
    ),
    pytest.param(
        "/v1/profiles/p-1/external-ids",
        {"externalId": {"provider": "IDENTITY_PROVIDER_KINTELL", "externalId": "k-1", "verified": True}},
        "externalId.verified",
        id="nested-json-name",
    ),
    pytest.param("/v1/privacy/export", {"everything": True}, "everything", id="empty-message"),
    pytest.param("/v1/q2q/classify", {"text": "t", "": 1}, "", id="empty-name"),
]


@pytest.mark.parametrize(("path", "body", "field"), UNKNOWN_FIELDS)
def test_an_unknown_body_field_is_400_naming_it(edge: Edge, path: str, body: dict[str, Any], field: str) -> None:
    calls = len(edge.upstream.calls)
    message = _assert_refused(edge.request("POST", path, **_json(body)), 400, 3)
    assert message == f'unknown field "{field}" in the request body'
    assert len(edge.upstream.calls) == calls


def test_an_escaped_field_name_is_read_as_json_reads_it(edge: Edge) -> None:
    """ "\\u0062ogus" is "bogus": escapes do not smuggle a field past the check."""
    body = '{"text": "t", "\\u0062og\\u00fcs": 1}'
    message = _assert_refused(edge.request("POST", "/v1/q2q/classify", content=body), 400, 3)
    assert message == 'unknown field "bogüs" in the request body'


def test_a_long_unknown_name_is_cut_before_a_character(edge: Edge) -> None:
    body = json.dumps({"text": "t", "x" + "é" * 200: 1}, ensure_ascii=False).encode()
    message = _assert_refused(edge.request("POST", "/v1/q2q/classify", content=body), 400, 3)
    assert message == 'unknown field "x' + "é" * 63 + '..." in the request body'


def test_an_unknown_field_in_an_array_element_is_named_with_its_index(edge: Edge) -> None:
    body = {"email": "a@example.org", "external_ids": [{"external_id": "k"}, {"external_id": "k", "x": 1}]}
    message = _assert_refused(edge.request("POST", "/v1/profiles", **_json(body)), 400, 3)
    assert message == 'unknown field "external_ids[1].x" in the request body'


def test_known_fields_in_either_spelling_reach_the_service(edge: Edge) -> None:
    body = {
        "text": "good progress",
        "sourceTextId": "t-1",
        "source_text_type": "TEXT_SOURCE_TYPE_KINTELL_RATING_FEEDBACK",
    }
    response = edge.request("POST", "/v1/q2q/classify", **_json(body | {"store": True, "profile_id": "p-1"}))
    assert response.status_code == 200, response.text
    request = q2q_pb2.ClassifyRequest.FromString(edge.upstream.of(CLASSIFY)[-1].request)
    assert (request.text, request.source_text_id, request.profile_id, request.store) == (
        "good progress",
        "t-1",
        "p-1",
        True,
    )


def test_a_body_field_of_message_type_and_well_known_types_pass(edge: Edge) -> None:
    enrolment = {"programme": "PROGRAMME_TYPE_BUDDY", "start_time": "2026-01-01T00:00:00Z", "endTime": None}
    response = edge.request("POST", "/v1/profiles/p-1/enrolments", **_json({"enrolment": enrolment}))
    assert response.status_code == 200, response.text
    request = profile_pb2.UpsertEnrolmentRequest.FromString(edge.upstream.of(UPSERT_ENROLMENT)[-1].request)
    assert request.profile_id == "p-1"
    assert request.enrolment.start_time.seconds == 1767225600


def test_a_body_bound_to_one_field_is_checked_as_that_message(edge: Edge) -> None:
    """CreateProfile's body is the `profile` field: its fields are known, the request's are not."""
    response = edge.request("POST", "/v1/profiles", **_json({"email": "a@example.org", "given_name": "Ada"}))
    assert response.status_code == 200, response.text
    assert (
        profile_pb2.CreateProfileRequest.FromString(edge.upstream.of(CREATE_PROFILE)[-1].request).profile.given_name
        == "Ada"
    )
    message = _assert_refused(
        edge.request("POST", "/v1/profiles", **_json({"profile": {"email": "a@example.org"}})), 400, 3
    )
    assert message == 'unknown field "profile" in the request body'


@pytest.mark.parametrize("content", ["", "{}", " { } "])
def test_an_empty_body_passes(edge: Edge, content: str) -> None:
    response = edge.request("POST", "/v1/privacy/export", content=content)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "content",
    [
        pytest.param('{"text": ', id="truncated"),
        pytest.param('{"text": "t"} {}', id="two-values"),
        pytest.param("{'text': 't'}", id="single-quotes"),
        pytest.param('{"text": "t",}', id="trailing-comma"),
        pytest.param('{"text": "a\x01b"}', id="raw-control-character"),
        pytest.param('{"text": "\\x41"}', id="bad-escape"),
        pytest.param('{"text": 01}', id="leading-zero"),
        pytest.param('{"text": tru}', id="bad-literal"),
        pytest.param('{"text": "t", "source_text_id": ' + "[" * 100 + "]" * 100 + "}", id="nested-too-deep"),
    ],
)
def test_malformed_json_is_400_and_never_reaches_the_service(edge: Edge, content: str) -> None:
    calls = len(edge.upstream.calls)
    message = _assert_refused(edge.request("POST", "/v1/q2q/classify", content=content.encode()), 400, 3)
    assert "JSON" in message or "json" in message.lower(), message
    assert len(edge.upstream.calls) == calls


VALID_VALUES = [
    "-0",
    "0.5",
    "-1.5e-3",
    "1E+2",
    "12345678901234567890",
    "true",
    "false",
    "null",
    "[]",
    "[1, [2, {}], null]",
    '{"any": {"name": [true]}}',
    '"\\u00e9\\ud83d\\ude00 \\" \\\\ \\/ \\b\\f\\n\\r\\t"',
    '"caf\u00e9"',
    ' \t\r\n"spaced" \n',
]


@pytest.mark.parametrize("value", VALID_VALUES)
def test_any_json_value_passes_the_check(edge: Edge, value: str) -> None:
    """The check reads keys and skips values: whatever JSON a value is, the transcoder judges it."""
    response = edge.request("POST", "/v1/q2q/classify", content=f'{{"text": {value}}}'.encode())
    assert "unknown field" not in response.text, response.text
    assert "not valid JSON" not in response.text, response.text


def test_escapes_and_unicode_reach_the_service_as_sent(edge: Edge) -> None:
    text = 'caf\u00e9 \U0001f600 "quoted" \\ / \b\f\n\r\t'
    for ensure_ascii in (True, False):
        content = json.dumps({"text": text, "store": False, "profile_id": None}, ensure_ascii=ensure_ascii)
        response = edge.request("POST", "/v1/q2q/classify", content=content.encode())
        assert response.status_code == 200, response.text
        assert q2q_pb2.ClassifyRequest.FromString(edge.upstream.of(CLASSIFY)[-1].request).text == text


def test_webhooks_keep_their_senders_open_schema(edge: Edge) -> None:
    """A webhook body is raw bytes the service verifies and reads; unknown fields are the sender's."""
    content = json.dumps({"type": "session.completed", "data": {"unknown_to_us": 1}, "extra": True}).encode()
    response = edge.request(
        "POST", "/v1/kintell/webhooks/session-completed", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    received = edge.upstream.of("/teei.kintell.v1.KintellService/ReceiveSessionCompleted")[-1]
    assert kintell_pb2.ReceiveSessionCompletedRequest.FromString(received.request).body.data == content


def test_csv_imports_pass_untouched(edge: Edge) -> None:
    csv = b'session_id,email,notes\ns-1,ada@example.org,"{""bogus"": 1}"\n' * 1000
    response = edge.request("POST", "/v1/kintell/imports", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 200, response.text
    received = edge.upstream.of("/teei.kintell.v1.KintellService/ImportSessions")[-1]
    assert kintell_pb2.ImportSessionsRequest.FromString(received.request).body.data == csv


def test_native_grpc_is_not_checked_as_json(edge: Edge) -> None:
    request = profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email="a@example.org"))
    with grpc.insecure_channel(edge.edge.grpc_target) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(CREATE_PROFILE)
        call(request.SerializeToString(), metadata=tuple(auth_header(role="super_admin").items()), timeout=10.0)
    assert edge.upstream.of(CREATE_PROFILE)[-1].request == request.SerializeToString()


def test_without_a_token_the_answer_is_401_not_the_field(edge: Edge) -> None:
    """Authentication comes first: an anonymous caller learns nothing about the contract."""
    response = httpx.post(f"{edge.edge.url}/v1/q2q/classify", content='{"bogus": 1}', timeout=10.0)
    assert response.status_code == 401, response.text


# --- paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/profiles/..%2F..%2Fadmin",
        "/v1/profiles/p-1%2Fflags",
        "/v1/profiles/%00",
        "/v1/profiles/p%00-1",
        "/v1/profiles/..%5c..%5cadmin",
        "/v1/profiles/..%5C",
    ],
)
def test_an_encoded_slash_backslash_or_nul_in_the_path_is_400_saying_so(edge: Edge, path: str) -> None:
    calls = len(edge.upstream.calls)
    response = httpx.get(f"{edge.edge.url}{path}", headers=auth_header(role="super_admin"), timeout=10.0)
    assert _assert_refused(response, 400, 3) == PATH_REFUSED_MESSAGE
    assert len(edge.upstream.calls) == calls


# --- every refusal of the edge --------------------------------------------------------


REFUSALS: list[Any] = [
    pytest.param(("GET", "/v1/profiles/..%2Fx", {}), 400, 3, id="encoded-slash"),
    pytest.param(("GET", "/v1/profiles/%00", {}), 400, 3, id="nul-in-path"),
    pytest.param(("POST", "/v1/q2q/classify", {"content": '{"text": '}), 400, 3, id="bad-json"),
    pytest.param(("POST", "/v1/q2q/classify", {"content": '{"text": 5}'}), 400, 3, id="wrong-type"),
    pytest.param(("POST", "/v1/q2q/classify", {"content": '{"text": "t", "x": 1}'}), 400, 3, id="unknown-field"),
    pytest.param(("GET", "/v1/profiles/p-1?bogus=1", {}), 400, 3, id="unknown-query-parameter"),
    pytest.param(("GET", "/v1/profiles/p-1", {"headers": {"x_teei_role": "admin"}}), 400, 3, id="underscore-header"),
    pytest.param(("GET", "/v1/profiles/p-1", {"headers": {"x-padding": "a" * 40_000}}), 431, 3, id="oversize-headers"),
    pytest.param(("GET", "/v1/profiles/" + "p" * 9000, {}), 414, 3, id="oversize-url"),
    pytest.param(
        ("POST", "/v1/profiles", {"content": b"{" + b" " * (2 * 1024 * 1024) + b"}"}), 413, 8, id="large-body"
    ),
    pytest.param(("GET", "/v1/profiles/p-1", {"headers": {"authorization": "Bearer x"}}), 401, 16, id="bad-token"),
    pytest.param(("POST", "/v1/profiles", {"headers": auth_header(role="company_user")}), 403, 7, id="role"),
    pytest.param(("GET", "/v1/nowhere", {}), 404, 5, id="unknown-route"),
    pytest.param(("PUT", "/v1/profiles/p-1", {}), 405, 12, id="method"),
]


@pytest.mark.parametrize(("request_", "status", "code"), REFUSALS)
def test_every_refusal_of_the_edge_is_a_json_status_with_a_message(
    edge: Edge, request_: tuple[str, str, dict[str, Any]], status: int, code: int
) -> None:
    method, path, kwargs = request_
    calls = len(edge.upstream.calls)
    _assert_refused(edge.request(method, path, **kwargs), status, code)
    assert len(edge.upstream.calls) == calls


# --- the check agrees with protobuf's own JSON parser ---------------------------------


def _names(message: Any) -> set[str]:
    return {name for field in message.DESCRIPTOR.fields for name in (field.name, field.json_name)}


_ENROLMENT_FIELDS = _names(profile_pb2.Enrolment)
_REQUEST_FIELDS = _names(profile_pb2.UpsertEnrolmentRequest)
_keys = st.one_of(st.sampled_from(sorted(_ENROLMENT_FIELDS | _REQUEST_FIELDS)), st.text(max_size=12))
_extra = st.dictionaries(_keys, st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3)


def _first_unknown(body: dict[str, Any]) -> str | None:
    """The first unknown name in document order, as a path (None: every name is known)."""
    for key, value in body.items():
        if key not in _REQUEST_FIELDS:
            return key
        nested = next((k for k in value if k not in _ENROLMENT_FIELDS), None) if isinstance(value, dict) else None
        if nested is not None:
            return f"{key}.{nested}"
    return None


@settings(max_examples=60, deadline=None)
@given(top=_extra, nested=_extra, ascii_only=st.booleans())
def test_the_check_names_what_protobufs_parser_refuses(
    edge: Edge, top: dict[str, Any], nested: dict[str, Any], ascii_only: bool
) -> None:
    """Random names, escaped or not, at two levels: refused exactly when protobuf's JSON parser finds an
    unknown field, naming the first one."""
    # Known fields are null (any field's default), so only names can make the body invalid.
    body = {key: None if key in _REQUEST_FIELDS else value for key, value in top.items()}
    body["enrolment"] = {key: None if key in _ENROLMENT_FIELDS else value for key, value in nested.items()}
    content = json.dumps(body, ensure_ascii=ascii_only)
    expected = _first_unknown(body)
    try:
        json_format.Parse(content, profile_pb2.UpsertEnrolmentRequest(), ignore_unknown_fields=False)
        parser_found_unknown = False
    except json_format.ParseError as error:
        parser_found_unknown = "has no field named" in str(error)
    assert parser_found_unknown == (expected is not None)
    response = edge.request("POST", "/v1/profiles/p-1/enrolments", content=content.encode())
    if expected is not None:
        assert _assert_refused(response, 400, 3) == f'unknown field "{expected}" in the request body'
    else:
        assert "unknown field" not in response.text, response.text


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        pytest.param(
            b"GET /v1/profiles/p-1 HTTP/1.1\r\nx_teei_role: admin\r\n", "unexpected_underscore", id="underscore"
        ),
        pytest.param(b"GET /v1/profiles/p-1 HTTP/1.1\r\nx-a: a\x01b\r\n", "invalid_characters", id="control-character"),
        pytest.param(b"GET /v1/pro\x00files HTTP/1.1\r\n", "invalid_characters", id="raw-nul-in-path"),
        pytest.param(b"CONNECT /v1/profiles/p-1 HTTP/1.1\r\n", "invalid_url", id="connect"),
        pytest.param(
            b"POST /v1/profiles HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n",
            "content_length_and_chunked_not_allowed",
            id="smuggling",
        ),
    ],
)
def test_malformed_http_is_400_naming_the_broken_rule(edge: Edge, raw: bytes, rule: str) -> None:
    """The codec's own refusals, which Envoy words as a bare "Bad Request"."""
    host, port = edge.edge.grpc_target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10.0) as connection:
        connection.sendall(raw + b"host: edge\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"code": 3, "message": f"malformed HTTP request (http1.{rule})"}
