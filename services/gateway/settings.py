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

    def token_settings(self) -> TokenSettings:
        """What the token endpoint issues."""
        return TokenSettings(
            issuer=self.issuer, audience=self.audience, lifetime=timedelta(seconds=self.token_ttl_seconds)
        )
