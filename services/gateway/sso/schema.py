"""The providers file's shape (pydantic): unknown settings, wrong types and malformed values are refused
with a message naming the setting; presets and secrets files are resolved by `sso.config`."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from services.gateway.domain.sso import DEFAULT_SCOPES, LOGIN_TTL, SSO_ROLES
from services.kit import tenants

GOOGLE_ISSUER = "https://accounts.google.com"
AZURE_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
DISCOVERY_PATH = "/.well-known/openid-configuration"
KINDS = ("google", "azure", "oidc")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Multi-tenant Azure endpoints have no fixed issuer, so ID tokens could not be tied to one directory.
_AZURE_SHARED_TENANTS = frozenset({"common", "organizations", "consumers"})
_AZURE_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$")
_DOMAIN = re.compile(r"^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$")


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("sso_setting", message)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("expected a non-empty string")
    return value.strip()


def _url(value: object) -> str:
    """Absolute https URLs without a fragment; plain http only on loopback (development)."""
    text = _text(value)
    parts = urllib.parse.urlsplit(text)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or ""))
    if not secure or not parts.hostname or parts.fragment:
        raise _invalid("must be an absolute https URL without a fragment (http only on loopback)")
    return text


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _matching(pattern: re.Pattern[str], message: str) -> BeforeValidator:
    def check(value: object) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise _invalid(message)
        return text

    return BeforeValidator(check)


def _tenant(value: object) -> str:
    """A tenant id as written: the one grammar, not trimmed, so `acme ` is not taken for `acme`."""
    if not tenants.is_tenant(value):
        raise _invalid(f"must be {tenants.GRAMMAR}")
    return value


def _kind(value: object) -> str:
    if value not in KINDS:
        raise _invalid("must be google, azure or oidc")
    return str(value)


def _azure_tenant(value: object) -> str:
    tenant = _text(value)
    if tenant.lower() in _AZURE_SHARED_TENANTS or not _AZURE_TENANT.match(tenant):
        raise _invalid("must name one directory (its id or domain), not a multi-tenant endpoint")
    return tenant


def _some(value: object) -> object:
    if isinstance(value, dict) and not value:
        raise _invalid("must map at least one e-mail domain to a tenant")
    return value


def _role(value: object) -> str:
    role = _text(value)
    if role not in SSO_ROLES:
        raise _invalid(f"must be one of {', '.join(sorted(SSO_ROLES))}")
    return role


# A validator before the type check also refuses an explicit null where a value may be left out.
Text = Annotated[str, BeforeValidator(_text)]
OptionalText = Annotated[str | None, BeforeValidator(_text)]
Url = Annotated[str, BeforeValidator(_url)]
OptionalUrl = Annotated[str | None, BeforeValidator(_url)]
Tenant = Annotated[str, BeforeValidator(_tenant)]
EmailDomain = Annotated[str, _matching(_DOMAIN, "not a lower-case e-mail domain")]
ProviderName = Annotated[str, _matching(NAME, "provider names are lower-case letters, digits, '-' or '_'")]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class GrantSettings(_Settings):
    """The tenant and role an e-mail domain signs in as."""

    tenant: Tenant
    role: Annotated[str, BeforeValidator(_role)] = "company_admin"


class ProviderSettings(_Settings):
    """One provider as the file states it."""

    kind: Annotated[str | None, BeforeValidator(_kind)] = None
    issuer: OptionalUrl = None
    tenant_id: Annotated[str | None, BeforeValidator(_azure_tenant)] = None
    discovery_url: OptionalUrl = None
    client_id: Text
    client_secret: OptionalText = None
    client_secret_file: OptionalText = None
    redirect_uri: Url
    domains: Annotated[dict[EmailDomain, GrantSettings], BeforeValidator(_some)]
    allowed_redirect_uris: list[Url] = Field(default_factory=list)
    scope: Text = " ".join(DEFAULT_SCOPES)

    @model_validator(mode="after")
    def _one_secret(self) -> ProviderSettings:
        if (self.client_secret is None) == (self.client_secret_file is None):
            raise _invalid("give exactly one of client_secret and client_secret_file")
        return self


class SsoFile(_Settings):
    """The whole providers file."""

    login_ttl_seconds: Annotated[int, Field(ge=60, le=3600)] = int(LOGIN_TTL.total_seconds())
    providers: dict[ProviderName, ProviderSettings] = Field(default_factory=dict)
