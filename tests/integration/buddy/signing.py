"""Each test tenant's Buddy webhook secret, and call metadata that signs a delivery with it."""

from __future__ import annotations

import base64

from services.kit import testing
from services.kit.security import webhooks

SECRETS = {
    name: "whsec_" + base64.b64encode(f"{name}-buddy-webhook-test-secret".encode()).decode()
    for name in ("acme", "globex")
}
Metadata = tuple[tuple[str, str], ...]


def signed_as(tenant: str, body: bytes, *, message_id: str = "d-1", timestamp: int | None = None) -> Metadata:
    """A caller of `tenant` (bearer token) delivering `body` signed with that tenant's Buddy secret."""
    signature = webhooks.signed_metadata(SECRETS[tenant], body, message_id=message_id, timestamp=timestamp)
    return testing.tenant(tenant) + signature
