"""A real OpenID Provider for tests: authlib's authorization server (code flow, OpenID Connect, PKCE S256 required)
with RS256 ID tokens, discovery and JWKS, served by a threaded HTTP server on a free loopback port.

The authorization endpoint signs in one configured test user without a page (auto-approval); everything else
is checked as a production provider checks it: registered redirect URIs, client authentication at the token
endpoint, PKCE, single-use codes bound to client and redirect URI, nonce replay. `behaviour` lets a test make
the next ID tokens wrong (another nonce, another signing key, an unverified e-mail).
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# authlib ships no type information: its classes are Any to mypy, hence the ignores on the subclasses below.
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey

SCOPES = ("openid", "email", "profile")
CODE_LIFETIME = 600
Answer = tuple[int, Any, list[tuple[str, str]]]


@dataclass
class TestUser:
    """The user the authorization endpoint signs in."""

    __test__ = False  # not a pytest test class

    sub: str = "248289761001"
    email: str = "ada@acme.example"
    email_verified: bool | None = True
    name: str = "Ada Lovelace"

    def claims(self) -> dict[str, Any]:
        """The user's claims in an ID token."""
        claims: dict[str, Any] = {"sub": self.sub, "email": self.email, "name": self.name}
        if self.email_verified is not None:
            claims["email_verified"] = self.email_verified
        return claims


@dataclass
class Behaviour:
    """How the provider builds the next ID tokens; the defaults are a correct provider."""

    user: TestUser = field(default_factory=TestUser)
    nonce: str | None = None  # a nonce other than the one of the authorization request
    signing_key: RSAKey | None = None  # sign with this key while still naming the published key's kid
    extra_audience: str | None = None


@dataclass(frozen=True)
class RegisteredClient:
    """A confidential client registered at the provider."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class IssuedCode:
    """An authorization code and what it was issued for."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: TestUser
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._datalist = values
        self._data = {name: items[0] for name, items in values.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    """authlib's request, adapted from what http.server parsed."""

    def __init__(self, method: str, uri: str, headers: Any, query: str, body: str) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = urllib.parse.parse_qs(query, keep_blank_values=True)
        self._form = urllib.parse.parse_qs(body, keep_blank_values=True)
        merged = {name: [*self._args.get(name, []), *self._form.get(name, [])] for name in {*self._args, *self._form}}
        self.payload = _Payload(merged)

    @property
    def args(self) -> dict[str, str]:
        return {name: items[0] for name, items in self._args.items()}

    @property
    def form(self) -> dict[str, str]:
        return {name: items[0] for name, items in self._form.items()}


class _RequireS256(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, confidential ones included, and only the S256 method."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012 - authlib's API

    @property
    def provider(self) -> OpenIDProvider:
        provider: OpenIDProvider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.provider.save_code(
            code,
            IssuedCode(
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                user=request.user,
                auth_time=int(time.time()),
                expires_at=time.time() + CODE_LIFETIME,
            ),
        )

    def query_authorization_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        # Claimed (removed) on first presentation: a code is never accepted twice, even by racing requests.
        return self.provider.claim_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing left to delete: the code was claimed when it was presented."""

    def authenticate_user(self, authorization_code: IssuedCode) -> TestUser:
        return authorization_code.user


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return self.provider.nonce_seen(nonce)

    def resolve_client_private_key(self, client: RegisteredClient) -> RSAKey:
        return self.provider.behaviour.signing_key or self.provider.key

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return "RS256"

    def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.kid}

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        audiences = [client.client_id, *filter(None, [self.provider.behaviour.extra_audience])]
        return {"iss": self.provider.issuer, "aud": audiences, "exp": int(time.time()) + 300}

    def get_authorization_code_claims(self, authorization_code: IssuedCode) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        if self.provider.behaviour.nonce is not None:
            claims["nonce"] = self.provider.behaviour.nonce
        return claims

    def generate_user_info(self, user: TestUser, scope: str) -> dict[str, Any]:
        return user.claims()


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator("default", BearerTokenGenerator(lambda **_: secrets.token_urlsafe(32)))
        self.register_grant(_CodeGrant, [_RequireS256(required=True), _OpenIDCode(provider)])

    def query_client(self, client_id: str) -> RegisteredClient | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Access tokens are not served anywhere here: nothing to keep."""

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Answer:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal receivers."""


class OpenIDProvider:
    """The provider: discovery at `issuer`/.well-known/openid-configuration, /authorize, /token, /jwks."""

    def __init__(self, port: int, *, auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")):
        self.issuer = f"http://127.0.0.1:{port}"
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        self.kid = str(self.key.kid)
        self.auth_methods = auth_methods
        self.behaviour = Behaviour()
        self.clients: dict[str, RegisteredClient] = {}
        self.refusals: list[dict[str, Any]] = []  # error answers of the token endpoint, newest last
        self.tokens_issued = 0
        self._codes: dict[str, IssuedCode] = {}
        self._nonces: set[str] = set()
        self._lock = threading.Lock()
        self.server = _Server(self)

    def rotate_key(self) -> None:
        """Signs from now on with a new key under a new kid (and publishes only that one)."""
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        self.kid = str(self.key.kid)

    def register(self, client_id: str, client_secret: str, *redirect_uris: str) -> RegisteredClient:
        """Registers a confidential client with its redirect URIs."""
        client = RegisteredClient(client_id, client_secret, tuple(redirect_uris))
        self.clients[client_id] = client
        return client

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", "email", "email_verified", "name", "nonce"],
        }

    def jwks(self) -> dict[str, Any]:
        """The published signing key."""
        return {"keys": [self.key.as_dict(private=False)]}

    def save_code(self, code: str, issued: IssuedCode) -> None:
        """Keeps a new code and remembers its nonce."""
        with self._lock:
            self._codes[code] = issued
            if issued.nonce:
                self._nonces.add(issued.nonce)

    def claim_code(self, code: str, client_id: str) -> IssuedCode | None:
        """The code's grant, removed so it is never accepted again; None when unknown, expired or another's."""
        with self._lock:
            issued = self._codes.pop(code, None)
        if issued is None or issued.client_id != client_id or issued.expires_at < time.time():
            return None
        return issued

    def nonce_seen(self, nonce: str) -> bool:
        """Whether an authorization request used this nonce already (replayed requests are refused)."""
        with self._lock:
            return nonce in self._nonces

    def authorize(self, request: _Request) -> Answer:
        """Signs in the test user without a page and redirects with a code (or an error)."""
        user = self.behaviour.user
        try:
            grant = self.server.get_consent_grant(request, end_user=user)
        except OAuth2Error as error:
            answer: Answer = self.server.handle_error_response(request, error)
            return answer
        answer = self.server.create_authorization_response(request, grant_user=user, grant=grant)
        return answer

    def token(self, request: _Request) -> Answer:
        """The token endpoint."""
        status, body, headers = self.server.create_token_response(request)
        with self._lock:
            if status == 200:
                self.tokens_issued += 1
            else:
                self.refusals.append(dict(body))
        return status, body, headers


class _Handler(BaseHTTPRequestHandler):
    provider: OpenIDProvider  # set on the per-server subclass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/authorize":
            self._answer(*self.provider.authorize(self._request("GET", query, "")))
            return
        documents = {"/.well-known/openid-configuration": self.provider.discovery, "/jwks": self.provider.jwks}
        fetch = documents.get(path)
        self._answer(*((200, fetch(), []) if fetch else (404, {"error": "not_found"}, [])))

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode()
        if path != "/token":
            self._answer(404, {"error": "not_found"}, [])
            return
        self._answer(*self.provider.token(self._request("POST", query, body)))

    def _request(self, method: str, query: str, body: str) -> _Request:
        uri = f"{self.provider.issuer}{self.path}"
        return _Request(method, uri, self.headers, query, body)

    def _answer(self, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else str(body or "")).encode()
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines carry codes."""


@contextmanager
def running_provider(**options: Any) -> Iterator[OpenIDProvider]:
    """Serves a fresh provider on 127.0.0.1 (a free port) until the block ends."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    provider = OpenIDProvider(server.server_address[1], **options)
    handler.provider = provider  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
