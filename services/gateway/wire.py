"""Proto ⇄ domain for the GatewayService RPCs: the OAuth token request (REST body, proto fields, HTTP
Basic), the JWKS, SSO commands, and the HTTP bodies and headers of token answers and browser redirects."""

from __future__ import annotations

import base64
import binascii
import html
import json
import urllib.parse
from collections.abc import Iterable, Mapping

from google.api import httpbody_pb2

from services.gateway.domain.commands import CompleteSsoLogin, IssueToken, StartSsoLogin
from services.gateway.domain.errors import InvalidClient, InvalidTokenRequest
from services.gateway.domain.keys import SigningKey
from services.gateway.domain.tokens import IssuedToken
from services.kit import characters
from services.kit.errors import FieldViolation, InvalidArgument
from teei.gateway.v1 import gateway_pb2

MAX_BODY_BYTES = 8 * 1024
_FIELDS = ("grant_type", "client_id", "client_secret", "scope", "audience")
_LIMITS = {"grant_type": 64, "client_id": 128, "client_secret": 256, "scope": 1024, "audience": 256}
_JWK_FIELDS = tuple(gateway_pb2.Jwk.DESCRIPTOR.fields_by_name)
# RFC 6749 section 5.1: token responses must not be cached.
NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))
# The edge turns these two headers into an HTTP 302 (initial metadata become response headers).
HTTP_STATUS_HEADER = "x-teei-http-status"


def issue_token(request: gateway_pb2.IssueTokenRequest, metadata: Mapping[str, str]) -> IssueToken:
    """The command; body values take precedence over fields, and Basic credentials may replace both."""
    values = {name: getattr(request, name) for name in _FIELDS}
    values.update(_body_values(request.body))
    basic = _basic_credentials(metadata.get("authorization", ""))
    if basic is not None:
        if values["client_secret"] or (values["client_id"] and values["client_id"] != basic[0]):
            raise InvalidTokenRequest("use one client authentication method, not several")
        values["client_id"], values["client_secret"] = basic
    _check_values(values)
    return IssueToken(**values)


def _check_values(values: Mapping[str, str]) -> None:
    """Each value is one line of bounded length; the refusal names the field, never the value (a secret)."""
    controls = [
        FieldViolation(name, fault)
        for name in _FIELDS
        if (fault := characters.control_fault(values[name], free_text=False)) is not None
    ]
    if controls:
        raise InvalidTokenRequest(_named(controls), violations=controls)
    too_long = [
        FieldViolation(name, f"must be at most {limit} characters")
        for name, limit in _LIMITS.items()
        if len(values[name]) > limit
    ]
    if too_long:
        raise InvalidTokenRequest(f"token request field too long: {_named(too_long)}", violations=too_long)


def _named(violations: Iterable[FieldViolation]) -> str:
    return "; ".join(f"{v.field} {v.description}" for v in violations)


def issue_token_response(issued: IssuedToken) -> gateway_pb2.IssueTokenResponse:
    """The token endpoint's answer to a gRPC caller."""
    return gateway_pb2.IssueTokenResponse(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=issued.expires_in,
        scope=issued.scope,
    )


def jwks_response(keys: Iterable[SigningKey]) -> gateway_pb2.GetJwksResponse:
    """The published public keys."""
    return gateway_pb2.GetJwksResponse(keys=[jwk(key.public_jwk) for key in keys])


def jwk(public_jwk: Mapping[str, str]) -> gateway_pb2.Jwk:
    """The wire form of one public key."""
    return gateway_pb2.Jwk(**{name: public_jwk[name] for name in _JWK_FIELDS if name in public_jwk})


def start_sso_login(request: gateway_pb2.SsoLoginRequest) -> StartSsoLogin:
    """The command of a login request."""
    return StartSsoLogin(provider=request.provider, redirect_uri=request.redirect_uri, login_hint=request.login_hint)


def complete_sso_login(request: gateway_pb2.SsoCallbackRequest) -> CompleteSsoLogin:
    """The command of the provider's callback (RFC 9207's `iss` included)."""
    fields = ("provider", "code", "state", "error", "error_description")
    return CompleteSsoLogin(**{name: getattr(request, name) for name in fields}, issuer=request.iss)


def redirect_headers(url: str) -> tuple[tuple[str, str], ...]:
    """Response metadata of a browser redirect; nothing of it may be cached or leak as a referrer."""
    return ((HTTP_STATUS_HEADER, "302"), ("location", url), *NO_STORE, ("referrer-policy", "no-referrer"))


def redirect_page(url: str) -> httpbody_pb2.HttpBody:
    """A minimal page linking to `url`, for clients that do not follow the redirect."""
    link = html.escape(url, quote=True)
    page = f'<!doctype html><meta charset="utf-8"><title>Redirecting</title><p><a href="{link}">Continue</a></p>'
    return httpbody_pb2.HttpBody(content_type="text/html; charset=utf-8", data=page.encode())


def token_body(issued: IssuedToken) -> httpbody_pb2.HttpBody:
    """The OAuth 2.0 token response (RFC 6749 section 5.1) as JSON."""
    answer = {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in}
    return httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(answer).encode())


def _body_values(body: httpbody_pb2.HttpBody) -> dict[str, str]:
    data: bytes = body.data
    if not data:
        return {}
    if len(data) > MAX_BODY_BYTES:
        raise InvalidTokenRequest(f"token request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTokenRequest("token request body is not UTF-8") from exc
    media_type = body.content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _form(text)
    if media_type == "application/json":
        return _json(text)
    raise InvalidTokenRequest("send application/x-www-form-urlencoded or application/json")


def _form(text: str) -> dict[str, str]:
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=32)
    except ValueError as exc:
        raise InvalidTokenRequest("token request body is not form-encoded") from exc
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        # RFC 6749 section 3.2: request parameters must not be included more than once.
        raise InvalidTokenRequest(
            "repeated parameter", violations=[FieldViolation(name, "given more than once") for name in repeated]
        )
    return {name: value for name, value in pairs if name in _FIELDS}


def _json(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidTokenRequest("token request body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise InvalidTokenRequest("token request body must be a JSON object")
    wrong = [
        FieldViolation(name, "must be a string")
        for name in _FIELDS
        if name in document and not isinstance(document[name], str)
    ]
    if wrong:
        raise InvalidTokenRequest(f"token request field of the wrong type: {_named(wrong)}", violations=wrong)
    return {name: document[name] for name in _FIELDS if name in document}


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("malformed Basic credentials") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 section 2.3.1: both parts are form-encoded before Basic encoding.
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


MAX_DIAGNOSTIC_NOTE = 200


def diagnostic_note(request: gateway_pb2.RaiseDiagnosticErrorRequest) -> str:
    """The note of a synthetic error request; a longer one is refused."""
    if len(request.note) > MAX_DIAGNOSTIC_NOTE:
        raise InvalidArgument(
            f"note is longer than {MAX_DIAGNOSTIC_NOTE} characters",
            violations=[FieldViolation("note", f"at most {MAX_DIAGNOSTIC_NOTE} characters")],
        )
    return request.note
