"""SSO providers file: google and azure presets, custom issuers, secrets from files, and refusals at start-up."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.gateway.domain import sso as rules
from services.gateway.domain.sso import DomainGrant
from services.gateway.sso import config as sso_config
from services.gateway.sso.oidc import ProviderMetadata
from services.kit.config import ConfigError

AZURE_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CALLBACK = "https://api.example.com/v1/auth/sso/{}/callback"
# The parts of Google's published discovery document the gateway reads (copied, no network).
GOOGLE_DISCOVERY = {
    "issuer": "https://accounts.google.com",
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
}


def _raw(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": f"{name}-client",
        "client_secret": "s3cret",
        "redirect_uri": CALLBACK.format(name),
        "domains": {"acme.com": {"tenant": "acme"}},
        **extra,
    }


def _write(tmp_path: Path, document: dict[str, Any], suffix: str = ".yaml") -> Path:
    path = tmp_path / f"sso{suffix}"
    path.write_text(json.dumps(document) if suffix == ".json" else yaml.safe_dump(document))
    return path


def test_google_preset_discovers_at_accounts_google_com() -> None:
    google = sso_config.provider("google", _raw("google"), Path())
    assert google.issuer == "https://accounts.google.com"
    assert google.discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert google.verified_email_claims == ("email_verified",)


def test_azure_preset_discovers_in_the_configured_directory() -> None:
    azure = sso_config.provider("azure", _raw("azure", tenant_id=AZURE_TENANT), Path())
    assert azure.issuer == f"https://login.microsoftonline.com/{AZURE_TENANT}/v2.0"
    assert (
        azure.discovery_url == f"https://login.microsoftonline.com/{AZURE_TENANT}/v2.0/.well-known/openid-configuration"
    )
    # Azure marks a verified e-mail domain owner with xms_edov rather than email_verified.
    assert "xms_edov" in azure.verified_email_claims


def test_a_preset_may_be_used_under_another_name_by_kind() -> None:
    contoso = sso_config.provider("contoso", _raw("contoso", kind="azure", tenant_id="contoso.onmicrosoft.com"), Path())
    assert contoso.issuer == "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers", "Common"])
def test_azure_multi_tenant_endpoints_are_refused(tenant: str) -> None:
    with pytest.raises(ConfigError, match="SSO provider azure: tenant_id: must name one directory"):
        sso_config.provider("azure", _raw("azure", tenant_id=tenant), Path())


def test_azure_needs_its_tenant_id() -> None:
    with pytest.raises(ConfigError, match="SSO provider azure: missing required setting tenant_id"):
        sso_config.provider("azure", _raw("azure"), Path())


def test_custom_issuer_discovers_under_its_well_known_path() -> None:
    okta = sso_config.provider("okta-globex", _raw("okta-globex", issuer="https://globex.okta.com/"), Path())
    assert okta.discovery_url == "https://globex.okta.com/.well-known/openid-configuration"
    explicit = sso_config.provider(
        "keycloak",
        _raw("keycloak", issuer="https://id.example.org/realms/x", discovery_url="https://id.example.org/d.json"),
        Path(),
    )
    assert explicit.discovery_url == "https://id.example.org/d.json"


def test_authorization_url_from_google_discovery_carries_state_nonce_and_s256_challenge() -> None:
    google = sso_config.provider("google", _raw("google"), Path())
    metadata = ProviderMetadata.from_document(GOOGLE_DISCOVERY, google)
    start = rules.start_login(google, redirect_uri=None, now=datetime(2026, 11, 26, tzinfo=UTC))
    url = rules.authorization_url(metadata.authorization_endpoint, google, start, login_hint="ada@acme.com")
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    assert params == {
        "response_type": "code",
        "client_id": "google-client",
        "redirect_uri": CALLBACK.format("google"),
        "scope": "openid email profile",
        "state": start.state,
        "nonce": start.pending.nonce,
        "code_challenge": rules.s256_challenge(start.pending.code_verifier),
        "code_challenge_method": "S256",
        "login_hint": "ada@acme.com",
    }
    assert start.pending.state_hash == rules.hash_state(start.state) != start.state
    assert start.pending.expires_at - start.pending.created_at == timedelta(minutes=10)


def test_discovery_naming_another_issuer_is_refused() -> None:
    google = sso_config.provider("google", _raw("google"), Path())
    with pytest.raises(Exception, match="names another issuer"):
        ProviderMetadata.from_document({**GOOGLE_DISCOVERY, "issuer": "https://evil.example"}, google)


def test_file_loads_providers_secret_files_and_login_ttl(tmp_path: Path) -> None:
    (tmp_path / "google.secret").write_text("from-a-file\n")
    domains = {"acme.com": {"tenant": "acme"}, "globex.io": {"tenant": "globex", "role": "company_user"}}
    google = {name: value for name, value in _raw("google", domains=domains).items() if name != "client_secret"}
    google |= {"client_secret_file": "google.secret", "allowed_redirect_uris": ["https://app.example.com/signed-in"]}
    document = {"login_ttl_seconds": 300, "providers": {"google": google}}
    for suffix in (".yaml", ".json"):
        settings = sso_config.load(_write(tmp_path, document, suffix))
        loaded = settings.providers["google"]
        assert loaded.client_secret == "from-a-file"
        assert "from-a-file" not in repr(loaded)
        assert loaded.domains == {"acme.com": DomainGrant("acme"), "globex.io": DomainGrant("globex", "company_user")}
        assert loaded.allowed_redirects == frozenset({"https://app.example.com/signed-in"})
        assert settings.login_ttl == timedelta(seconds=300)


def test_no_file_means_sso_is_off() -> None:
    assert not sso_config.load(None).configured


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_secret": None}, "client_secret: expected a non-empty string"),
        ({"client_secret_file": "missing.txt"}, "exactly one of client_secret and client_secret_file"),
        ({"redirect_uri": "http://api.example.com/cb"}, "redirect_uri: must be an absolute https URL"),
        ({"allowed_redirect_uris": ["https://app.example.com/#x"]}, "allowed_redirect_uris.0: must be an absolute"),
        ({"domains": {}}, "domains: must map at least one e-mail domain"),
        ({"domains": {"acme.com": {"tenant": "acme", "role": "super_admin"}}}, "domains.acme.com.role: must be one of"),
        ({"domains": {"acme.com": {"tenant": "Acme Corp"}}}, "domains.acme.com.tenant: must be 1-63 lower-case"),
        ({"domains": {"acme.com": {"tenant": "acme "}}}, "domains.acme.com.tenant: must be 1-63 lower-case"),
        ({"domains": {"acme.com": {"tenant": "acme\n"}}}, "domains.acme.com.tenant: must be 1-63 lower-case"),
        ({"domains": {"acme.com": {"tenant": "*"}}}, "domains.acme.com.tenant: must be 1-63 lower-case"),
        ({"domains": {"acme.com": {"tenant": "   "}}}, "domains.acme.com.tenant: must be 1-63 lower-case"),
        ({"domains": {"ACME.com": {"tenant": "acme"}}}, "domains.ACME.com: not a lower-case e-mail domain"),
        ({"kind": "saml"}, "kind: must be google, azure or oidc"),
    ],
)
def test_mistakes_fail_at_start_naming_provider_and_setting(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sso_config.provider("google", {**_raw("google"), **change}, Path())


def test_unknown_settings_are_refused_and_every_mistake_is_named(tmp_path: Path) -> None:
    """A misspelt setting is not silently ignored; all mistakes of the file are reported at once."""
    corp = _raw("corp", issuer="https://id.example.org", client_secret_fiel="x", scope=7)
    document = {"providers": {"corp": corp}, "login_ttl": 600}
    with pytest.raises(ConfigError) as caught:
        sso_config.load(_write(tmp_path, document))
    assert set(str(caught.value).split("; ")) == {
        "TEEI_SSO_CONFIG: login_ttl: unknown setting",
        "SSO provider corp: scope: expected a non-empty string",
        "SSO provider corp: client_secret_fiel: unknown setting",
    }


def test_custom_provider_needs_an_issuer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SSO provider corp: missing required setting issuer"):
        sso_config.load(_write(tmp_path, {"providers": {"corp": _raw("corp")}}))


def test_unreadable_or_invalid_files_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        sso_config.load(tmp_path / "absent.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid json"):
        sso_config.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="login_ttl_seconds"):
        sso_config.load(_write(tmp_path, {"login_ttl_seconds": 5, "providers": {}}))
