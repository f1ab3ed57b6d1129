"""The audit log's settings: the checkpoint key of services other than the gateway, the checkpoint interval, and
how refused calls are summed."""

from __future__ import annotations

from services.kit.config import Settings, setting


class AuditConfig(Settings):
    """TEEI_AUDIT_KEY (base64url, at least 32 bytes; or TEEI_AUDIT_KEY_FILE) signs the checkpoints of a
    service's log with HMAC-SHA256; unset, a key generated once under the var folder is used (development)."""

    key: str | None = setting("TEEI_AUDIT_KEY", default=None, secret=True)
    checkpoint_every: int = setting("TEEI_AUDIT_CHECKPOINT_EVERY", default=100)
    # Refused calls (kit/audit/denials.py): identical ones within this many seconds make one record with a
    # count; at most this many kinds are counted apart at a time, the rest together.
    denial_window_seconds: float = setting("TEEI_AUDIT_DENIAL_WINDOW_SECONDS", default=60.0)
    denial_max_kinds: int = setting("TEEI_AUDIT_DENIAL_MAX_KINDS", default=200)
