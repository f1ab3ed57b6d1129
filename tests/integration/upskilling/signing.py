"""Each test tenant's webhook secret per upskilling provider, and call metadata that signs a delivery."""

from __future__ import annotations

import base64
from pathlib import Path

from services.cli.webhooks import provision
from services.kit import testing
from services.kit.security import webhooks
from services.upskilling.domain.model import Provider

TENANTS = ("acme", "globex")
SECRETS = {
    (tenant, provider.value): "whsec_" + base64.b64encode(f"{tenant}:{provider.value}:test-secret".encode()).decode()
    for tenant in TENANTS
    for provider in Provider
}
Metadata = tuple[tuple[str, str], ...]


def provision_all(var_dir: Path) -> None:
    """Writes every (tenant, provider) secret into the secrets file of the mesh in `var_dir`."""
    for (tenant, provider), secret in SECRETS.items():
        provision(var_dir, tenant, provider, secret)


def signed_as(
    tenant: str, provider: str, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> Metadata:
    """A caller of `tenant` (bearer token) delivering `body` signed with its secret for `provider`."""
    secret = SECRETS.get((tenant, provider), webhooks.generate_secret())
    return testing.tenant(tenant) + webhooks.signed_metadata(secret, body, message_id=message_id, timestamp=timestamp)
