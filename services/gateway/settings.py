"""The gateway's own settings, read once from the environment (secrets also from `*_FILE`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.gateway.domain.tokens import TokenSettings
from services.kit.config import Settings, setting


class GatewayConfig(Settings):
    """Issuer, audience, token lifetime, signing algorithm, the key-encryption key and the SSO providers file."""

    issuer: str = setting("TEEI_AUTH_ISSUER", default="http://localhost:8080")
    audience: str = setting("TEEI_AUTH_AUDIENCE", default="teei-api")
    token_ttl_seconds: int = setting("TEEI_TOKEN_TTL_SECONDS", default=900)
    signing_algorithm: str = setting("TEEI_SIGNING_ALGORITHM", default="RS256")
    key_encryption_key: str | None = setting("TEEI_KEY_ENCRYPTION_KEY", default=None, secret=True)
    # YAML or JSON file of the OpenID Connect providers company admins sign in with; unset: SSO is off.
    sso_config: Path | None = setting("TEEI_SSO_CONFIG", default=None)
    # Revisions shipped beside the gateway's own (<folder>/gateway/), as for every service (ServiceConfig).
    extra_migrations: Path | None = setting("TEEI_EXTRA_MIGRATIONS", default=None)
    # Data-subject requests: the personal-data services as `name=host:port,...` (every one of them gets
    # a part in each request), how often the worker looks for due requests, the back-off of a service it
    # cannot reach, and the deadline of one export or erasure call.
    privacy_services: str = setting("TEEI_PRIVACY_SERVICES", default="")
    privacy_poll_seconds: float = setting("TEEI_PRIVACY_POLL_SECONDS", default=1.0)
    privacy_retry_seconds: float = setting("TEEI_PRIVACY_RETRY_SECONDS", default=1.0)
    privacy_retry_max_seconds: float = setting("TEEI_PRIVACY_RETRY_MAX_SECONDS", default=300.0)
    privacy_call_timeout_seconds: float = setting("TEEI_PRIVACY_CALL_TIMEOUT_SECONDS", default=120.0)

    def privacy_addresses(self) -> dict[str, str]:
        """The personal-data services the worker calls, by name; a malformed entry fails at start."""
        found: dict[str, str] = {}
        for entry in filter(None, (part.strip() for part in self.privacy_services.split(","))):
            name, sep, address = entry.partition("=")
            if not sep or not name.strip() or not address.strip():
                raise ValueError(f"TEEI_PRIVACY_SERVICES: expected name=host:port, got {entry!r}")
            found[name.strip()] = address.strip()
        return found

    def token_settings(self) -> TokenSettings:
        """What the token endpoint issues."""
        return TokenSettings(
            issuer=self.issuer, audience=self.audience, lifetime=timedelta(seconds=self.token_ttl_seconds)
        )
