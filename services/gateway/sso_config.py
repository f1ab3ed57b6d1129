"""SSO providers read once from the file named by TEEI_SSO_CONFIG (YAML or JSON), with google and azure presets.

```yaml
login_ttl_seconds: 600
providers:
  google:                                  # preset: issuer https://accounts.google.com
    client_id: 1234.apps.googleusercontent.com
    client_secret_file: /run/secrets/google-client-secret
    redirect_uri: https://api.example.com/v1/auth/sso/google/callback
    domains: {acme.com: {tenant: acme, role: company_admin}}
    allowed_redirect_uris: [https://app.example.com/signed-in]
  azure:                                   # preset: issuer https://login.microsoftonline.com/{tenant_id}/v2.0
    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
    ...
  okta-globex:                             # any other name: a custom issuer (or `kind: google|azure`)
    issuer: https://globex.okta.com
    ...
```
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from services.gateway.domain.sso import DEFAULT_SCOPES, LOGIN_TTL, SSO_ROLES, DomainGrant, Provider
from services.kit.config import ConfigError

GOOGLE_ISSUER = "https://accounts.google.com"
AZURE_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
DISCOVERY_PATH = "/.well-known/openid-configuration"
# Multi-tenant Azure endpoints have no fixed issuer, so ID tokens could not be tied to one directory.
_AZURE_SHARED_TENANTS = frozenset({"common", "organizations", "consumers"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_AZURE_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$")
_DOMAIN = re.compile(r"^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$")


@dataclass(frozen=True)
class SsoSettings:
    """Every configured provider by name, and how long a login may take."""

    providers: Mapping[str, Provider] = field(default_factory=dict)
    login_ttl: timedelta = LOGIN_TTL

    @property
    def configured(self) -> bool:
        """Whether any provider is configured."""
        return bool(self.providers)


def load(path: Path | None) -> SsoSettings:
    """The settings in `path`; no path means SSO is off. Any mistake fails start-up naming the provider and key."""
    if path is None:
        return SsoSettings()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"TEEI_SSO_CONFIG: cannot read {path}: {exc}") from exc
    document = _parse(text, path)
    providers = _mapping(document.get("providers", {}), "providers")
    ttl = document.get("login_ttl_seconds", int(LOGIN_TTL.total_seconds()))
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 3600:
        raise ConfigError("TEEI_SSO_CONFIG: login_ttl_seconds must be an integer between 60 and 3600")
    built = {name: provider(name, _mapping(raw, f"providers.{name}"), path.parent) for name, raw in providers.items()}
    return SsoSettings(providers=built, login_ttl=timedelta(seconds=ttl))


def provider(name: str, raw: Mapping[str, Any], base_dir: Path) -> Provider:
    """One provider from its settings; the kind defaults to the name when it is a preset."""
    if not _NAME.match(name):
        raise ConfigError(f"SSO provider name {name!r}: lower-case letters, digits, '-' or '_'")
    where = f"SSO provider {name}"
    kind = _text(raw, "kind", where, default=name if name in ("google", "azure") else "oidc")
    issuer = _issuer(kind, raw, where)
    callback = _url(_text(raw, "redirect_uri", where), f"{where}: redirect_uri")
    redirects = [
        _url(_str(uri, f"{where}: allowed_redirect_uris"), f"{where}: allowed_redirect_uris")
        for uri in _list(raw.get("allowed_redirect_uris", []), f"{where}: allowed_redirect_uris")
    ]
    return Provider(
        name=name,
        issuer=issuer,
        discovery_url=_text(raw, "discovery_url", where, default=issuer.rstrip("/") + DISCOVERY_PATH),
        client_id=_text(raw, "client_id", where),
        client_secret=_secret(raw, where, base_dir),
        callback_url=callback,
        domains=_domains(raw.get("domains"), where),
        allowed_redirects=frozenset(redirects),
        scopes=tuple(_text(raw, "scope", where, default=" ".join(DEFAULT_SCOPES)).split()),
        verified_email_claims=("email_verified", "xms_edov") if kind == "azure" else ("email_verified",),
    )


def _issuer(kind: str, raw: Mapping[str, Any], where: str) -> str:
    if kind == "google":
        return GOOGLE_ISSUER
    if kind == "azure":
        tenant = _text(raw, "tenant_id", where)
        if tenant.lower() in _AZURE_SHARED_TENANTS or not _AZURE_TENANT.match(tenant):
            raise ConfigError(f"{where}: tenant_id must name one directory (its id or domain), not {tenant!r}")
        return AZURE_ISSUER.format(tenant=tenant)
    if kind == "oidc":
        return _url(_text(raw, "issuer", where), f"{where}: issuer")
    raise ConfigError(f"{where}: kind must be google, azure or oidc, not {kind!r}")


def _secret(raw: Mapping[str, Any], where: str, base_dir: Path) -> str:
    if ("client_secret" in raw) == ("client_secret_file" in raw):
        raise ConfigError(f"{where}: give exactly one of client_secret and client_secret_file")
    if "client_secret" in raw:
        return _text(raw, "client_secret", where)
    path = Path(_text(raw, "client_secret_file", where))
    path = path if path.is_absolute() else base_dir / path
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read client_secret_file {path}: {exc}") from exc
    if not secret:
        raise ConfigError(f"{where}: client_secret_file {path} is empty")
    return secret


def _domains(raw: Any, where: str) -> dict[str, DomainGrant]:
    domains = _mapping(raw, f"{where}: domains")
    if not domains:
        raise ConfigError(f"{where}: domains must map at least one e-mail domain to a tenant")
    grants: dict[str, DomainGrant] = {}
    for domain, value in domains.items():
        spot = f"{where}: domains.{domain}"
        grant = _mapping(value, spot)
        tenant, role = _text(grant, "tenant", spot), _text(grant, "role", spot, default="company_admin")
        if not _DOMAIN.match(str(domain)):
            raise ConfigError(f"{spot}: not a lower-case e-mail domain")
        if not _TENANT.match(tenant):
            raise ConfigError(f"{spot}: tenant must be lower-case letters, digits, '-' or '_'")
        if role not in SSO_ROLES:
            raise ConfigError(f"{spot}: role must be one of {', '.join(sorted(SSO_ROLES))}")
        grants[str(domain)] = DomainGrant(tenant=tenant, role=role)
    return grants


def _url(value: str, where: str) -> str:
    """Absolute https URLs without a fragment; plain http only on loopback (development)."""
    parts = urllib.parse.urlsplit(value)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or ""))
    if not secure or not parts.hostname or parts.fragment:
        raise ConfigError(f"{where}: {value!r} must be an absolute https URL without a fragment")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(text: str, path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"TEEI_SSO_CONFIG: {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    return _mapping(document or {}, "TEEI_SSO_CONFIG")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a non-empty string")
    return value.strip()


def _text(raw: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    if key not in raw:
        if default is None:
            raise ConfigError(f"{where}: missing required setting {key}")
        return default
    return _str(raw[key], f"{where}: {key}")
