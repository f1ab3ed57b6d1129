"""The audit log's settings: the checkpoint key of services other than the gateway, and the checkpoint interval."""

from __future__ import annotations

from services.kit.config import Settings, setting


class AuditConfig(Settings):
    """TEEI_AUDIT_KEY (base64url, at least 32 bytes; or TEEI_AUDIT_KEY_FILE) signs the checkpoints of a
    service's log with HMAC-SHA256; unset, a key generated once under the var folder is used (development)."""

    key: str | None = setting("TEEI_AUDIT_KEY", default=None, secret=True)
    checkpoint_every: int = setting("TEEI_AUDIT_CHECKPOINT_EVERY", default=100)
