"""The gateway as an OpenID Connect relying party: discovery, the provider's signing keys, the code exchange."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from services.gateway.domain.errors import CodeExchangeFailed, SsoProviderUnavailable
from services.gateway.domain.sso import Provider
from services.kit import logs
from services.kit.clock import EpochClock
from services.kit.security import jose

log = logs.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_DOCUMENT_BYTES = 1024 * 1024
_OAUTH_ERROR = re.compile(r"^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$")  # RFC 6749 error-code characters


@dataclass(frozen=True)
class ProviderMetadata:
    """What the gateway uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]

    @classmethod
    def from_document(cls, document: Mapping[str, Any], provider: Provider) -> ProviderMetadata:
        """Validated metadata: the document must name the configured issuer (OpenID Discovery section 4.3)."""
        if document.get("issuer") != provider.issuer:
            raise _unavailable(provider, "the discovery document names another issuer")
        endpoints = [document.get(name) for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
        urls = [url for url in endpoints if isinstance(url, str) and url.startswith(("https://", "http://"))]
        if len(urls) != len(endpoints):
            raise _unavailable(provider, "the discovery document lacks an endpoint")
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        authorization, token, jwks = urls
        return cls(provider.issuer, authorization, token, jwks, tuple(map(str, methods)))


@dataclass
class _Cached:
    value: Any
    fetched_at: float


class OidcClient:
    """Fetches and caches discovery documents and JWKS; exchanges codes (httpx, with timeouts)."""

    def __init__(
        self,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        metadata_ttl: float = 3600.0,
        keys_ttl: float = 3600.0,
        min_refetch: float = 60.0,
        clock: EpochClock = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout, self._transport = timeout, transport
        self._metadata_ttl, self._keys_ttl, self._min_refetch = metadata_ttl, keys_ttl, min_refetch
        self._clock = clock
        self._metadata: dict[str, _Cached] = {}
        self._keys: dict[str, _Cached] = {}
        self._http: httpx.AsyncClient | None = None

    async def metadata(self, provider: Provider) -> ProviderMetadata:
        """The provider's metadata, from the cache while fresh."""
        cached = self._metadata.get(provider.name)
        if cached is None or self._clock() - cached.fetched_at >= self._metadata_ttl:
            document = await self._get_json(provider, provider.discovery_url)
            cached = _Cached(ProviderMetadata.from_document(document, provider), self._clock())
            self._metadata[provider.name] = cached
        metadata: ProviderMetadata = cached.value
        return metadata

    async def signing_key(
        self, provider: Provider, metadata: ProviderMetadata, *, kid: str | None, alg: str
    ) -> jwt.PyJWK | None:
        """The provider's public key for `kid` and `alg`; an unknown kid refetches the JWKS (rate-limited)."""
        now, cached = self._clock(), self._keys.get(provider.name)
        if cached is not None and now - cached.fetched_at < self._keys_ttl:
            key = _select(cached.value, kid, alg)
            if key is not None or now - cached.fetched_at < self._min_refetch:
                return key
        document = await self._get_json(provider, metadata.jwks_uri)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise _unavailable(provider, "the JWKS has no keys")
        self._keys[provider.name] = _Cached(entries, now)
        return _select(entries, kid, alg)

    async def exchange_code(
        self, provider: Provider, metadata: ProviderMetadata, *, code: str, code_verifier: str
    ) -> str:
        """The ID token the token endpoint gives for `code`, with PKCE and client authentication."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": provider.callback_url,
            "code_verifier": code_verifier,
        }
        headers = {"accept": "application/json"}
        if "client_secret_basic" in metadata.token_auth_methods:
            headers["authorization"] = _basic(provider.client_id, provider.client_secret)
        elif "client_secret_post" in metadata.token_auth_methods:
            form |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
        else:
            raise _unavailable(provider, "the provider offers no client authentication the gateway supports")
        response = await self._request(provider, "POST", metadata.token_endpoint, data=form, headers=headers)
        return _id_token(provider, response)

    async def aclose(self) -> None:
        """Closes the connection pool."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _get_json(self, provider: Provider, url: str) -> Mapping[str, Any]:
        response = await self._request(provider, "GET", url, headers={"accept": "application/json"})
        if response.status_code != httpx.codes.OK:
            raise _unavailable(provider, f"{_path(url)} answered HTTP {response.status_code}")
        return _json_object(provider, response)

    async def _request(self, provider: Provider, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._http is None:
            # Created on first use, so it belongs to the event loop that serves the RPCs.
            self._http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport, follow_redirects=False)
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("sso.provider.unreachable", provider=provider.name, path=_path(url), error=type(exc).__name__)
            raise _unavailable(provider, f"{_path(url)} cannot be reached") from exc


def _id_token(provider: Provider, response: httpx.Response) -> str:
    if response.status_code in (httpx.codes.BAD_REQUEST, httpx.codes.UNAUTHORIZED):
        answer = _json_object(provider, response)
        error = answer.get("error")
        error = error if isinstance(error, str) and _OAUTH_ERROR.match(error) else "invalid_request"
        log.info("sso.code.refused", provider=provider.name, error=error)
        raise CodeExchangeFailed(
            f"the provider refused the authorization code ({error})",
            metadata={"provider": provider.name, "error": error},
        )
    if response.status_code != httpx.codes.OK:
        raise _unavailable(provider, f"the token endpoint answered HTTP {response.status_code}")
    id_token = _json_object(provider, response).get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise CodeExchangeFailed("the provider answered without an ID token", metadata={"provider": provider.name})
    return id_token


def _select(entries: list[Any], kid: str | None, alg: str) -> jwt.PyJWK | None:
    """The signing key named `kid` (or the only key for `alg` when the token names none)."""
    named = [entry for entry in entries if isinstance(entry, dict) and (kid is None or entry.get("kid") == kid)]
    usable = [key for key in (jose.import_jwk(entry, alg=alg) for entry in named) if key is not None]
    return usable[0] if len(usable) == 1 else None


def _json_object(provider: Provider, response: httpx.Response) -> Mapping[str, Any]:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise _unavailable(provider, "the provider's answer is too large")
    try:
        document = json.loads(response.content)
    except ValueError as exc:
        raise _unavailable(provider, "the provider's answer is not JSON") from exc
    if not isinstance(document, dict):
        raise _unavailable(provider, "the provider's answer is not a JSON object")
    return document


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before the Basic encoding.
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path or "/"


def _unavailable(provider: Provider, problem: str) -> SsoProviderUnavailable:
    return SsoProviderUnavailable(
        f"the SSO provider {provider.name} is unavailable: {problem}", metadata={"provider": provider.name}
    )
