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

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic_core import ErrorDetails

from services.gateway.domain.sso import LOGIN_TTL, DomainGrant, Provider
from services.gateway.sso.schema import AZURE_ISSUER, DISCOVERY_PATH, GOOGLE_ISSUER, NAME, ProviderSettings, SsoFile
from services.kit.config import ConfigError

FILE = "TEEI_SSO_CONFIG"
# Friendlier words for pydantic's own error types; the validators in `schema` word their own.
_MESSAGES = {
    "missing": "missing required setting",
    "extra_forbidden": "unknown setting",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
}


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
        raise ConfigError(f"{FILE}: cannot read {path}: {exc}") from exc
    try:
        document = SsoFile.model_validate(_parse(text, path) or {})
    except pydantic.ValidationError as exc:
        raise _config_error(exc, FILE) from None
    providers = {name: _provider(name, raw, path.parent) for name, raw in document.providers.items()}
    return SsoSettings(providers=providers, login_ttl=timedelta(seconds=document.login_ttl_seconds))


def provider(name: str, raw: Mapping[str, Any], base_dir: Path) -> Provider:
    """One provider from its settings; the kind defaults to the name when it is a preset."""
    if not NAME.match(name):
        raise ConfigError(f"SSO provider name {name!r}: lower-case letters, digits, '-' or '_'")
    try:
        settings = ProviderSettings.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise _config_error(exc, f"SSO provider {name}") from None
    return _provider(name, settings, base_dir)


def _provider(name: str, settings: ProviderSettings, base_dir: Path) -> Provider:
    where = f"SSO provider {name}"
    kind = settings.kind or (name if name in ("google", "azure") else "oidc")
    issuer = _issuer(kind, settings, where)
    return Provider(
        name=name,
        issuer=issuer,
        discovery_url=settings.discovery_url or issuer.rstrip("/") + DISCOVERY_PATH,
        client_id=settings.client_id,
        client_secret=_client_secret(settings, where, base_dir),
        callback_url=settings.redirect_uri,
        domains={domain: DomainGrant(grant.tenant, grant.role) for domain, grant in settings.domains.items()},
        allowed_redirects=frozenset(settings.allowed_redirect_uris),
        scopes=tuple(settings.scope.split()),
        verified_email_claims=("email_verified", "xms_edov") if kind == "azure" else ("email_verified",),
    )


def _issuer(kind: str, settings: ProviderSettings, where: str) -> str:
    if kind == "google":
        return GOOGLE_ISSUER
    if kind == "azure":
        if settings.tenant_id is None:
            raise ConfigError(f"{where}: missing required setting tenant_id")
        return AZURE_ISSUER.format(tenant=settings.tenant_id)
    if settings.issuer is None:
        raise ConfigError(f"{where}: missing required setting issuer")
    return settings.issuer


def _client_secret(settings: ProviderSettings, where: str, base_dir: Path) -> str:
    """The secret as given, or read from its file (the schema lets exactly one of the two be given)."""
    if settings.client_secret_file is None:
        return str(settings.client_secret)
    path = Path(settings.client_secret_file)
    path = path if path.is_absolute() else base_dir / path
    try:
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read client_secret_file {path}: {exc}") from exc
    if not secret:
        raise ConfigError(f"{where}: client_secret_file {path} is empty")
    return secret


def _parse(text: str, path: Path) -> object:
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{FILE}: {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}") from exc


def _config_error(exc: pydantic.ValidationError, where: str) -> ConfigError:
    """Every mistake, each naming the provider (when in one) and the setting; never a value read."""
    return ConfigError("; ".join(_describe(error, where) for error in exc.errors()))


def _describe(error: ErrorDetails, where: str) -> str:
    path = [str(part) for part in error["loc"] if part != "[key]"]
    if where == FILE and path[:1] == ["providers"] and len(path) > 1:
        where, path = f"SSO provider {path[1]}", path[2:]
    text = _MESSAGES.get(error["type"], error["msg"])
    if error["type"] == "missing":
        return f"{where}: {text} {'.'.join(path)}"
    return f"{where}: {'.'.join(path)}: {text}" if path else f"{where}: {text}"
