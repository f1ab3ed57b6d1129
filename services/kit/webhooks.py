"""Standard Webhooks signature verification over the exact request bytes, with secret rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.kit.errors import Unauthenticated

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
TOLERANCE_SECONDS = 300
_MAX_ID_LENGTH = 256
_MAX_SIGNATURES = 16
_ID = re.compile(r"^[\x21-\x7e]+$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class WebhookRejected(Unauthenticated):
    """A webhook delivery whose origin cannot be proven; `reason` names why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, metadata={"reason": reason})
        self.reason = reason


class SecretStore(Protocol):
    """Where the verifier finds the secrets accepted for one (tenant, source)."""

    def secrets_for(self, tenant: str, source: str) -> Sequence[str]: ...


@dataclass(frozen=True)
class StaticSecrets:
    """Secrets from configuration: (tenant, source) → every secret currently accepted (several while rotating)."""

    secrets: Mapping[tuple[str, str], Sequence[str]]

    def secrets_for(self, tenant: str, source: str) -> Sequence[str]:
        """The accepted secrets, or none."""
        return tuple(self.secrets.get((tenant, source), ()))


@dataclass(frozen=True)
class VerifiedDelivery:
    """What the signature proves: the sender's message id and timestamp."""

    message_id: str
    timestamp: int


def decode_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_<base64>` secret; a bare base64 string is accepted too."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not base64") from exc
    if len(key) < 16:
        # Shorter keys make HMAC guessable; Standard Webhooks secrets are 24-64 bytes.
        raise ValueError("webhook secret is shorter than 16 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery (senders and tests use it)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> VerifiedDelivery:
    """Proves `body` was signed with one of `secrets` within `tolerance` seconds of `now`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp, signatures = _required(lowered)
    _check_time(timestamp, time.time() if now is None else now, tolerance)
    if not secrets:
        raise WebhookRejected("WEBHOOK_NO_SECRET", "no webhook secret is configured for this source")
    expected = [sign(secret, message_id, timestamp, body).encode() for secret in secrets]
    for given in signatures:
        if any(hmac.compare_digest(given.encode(), candidate) for candidate in expected):
            return VerifiedDelivery(message_id=message_id, timestamp=timestamp)
    raise WebhookRejected("WEBHOOK_SIGNATURE_INVALID", "no webhook signature matches the body")


def _required(headers: Mapping[str, str]) -> tuple[str, int, list[str]]:
    message_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    raw_signatures = headers.get("webhook-signature", "")
    if not (message_id and raw_timestamp and raw_signatures):
        raise WebhookRejected("WEBHOOK_UNSIGNED", "webhook-id, webhook-timestamp and webhook-signature are required")
    if len(message_id) > _MAX_ID_LENGTH or not _ID.match(message_id):
        raise WebhookRejected("WEBHOOK_ID_INVALID", "webhook-id must be 1-256 printable characters")
    if not _TIMESTAMP.match(raw_timestamp):
        raise WebhookRejected("WEBHOOK_TIMESTAMP_INVALID", "webhook-timestamp must be whole seconds since the epoch")
    # Only v1 (HMAC-SHA256) entries count; unknown versions are skipped as the specification says.
    entries = raw_signatures.split()[:_MAX_SIGNATURES]
    signatures = [entry for entry in entries if entry.startswith("v1,")]
    if not signatures:
        raise WebhookRejected("WEBHOOK_UNSIGNED", "webhook-signature holds no v1 signature")
    return message_id, int(raw_timestamp), signatures


def _check_time(timestamp: int, now: float, tolerance: int) -> None:
    if timestamp < now - tolerance:
        raise WebhookRejected("WEBHOOK_EXPIRED", f"webhook-timestamp is older than {tolerance} s")
    if timestamp > now + tolerance:
        raise WebhookRejected("WEBHOOK_FROM_FUTURE", f"webhook-timestamp is more than {tolerance} s ahead")


class WebhookVerifier:
    """Verifies deliveries of one (tenant, source) against every secret the store accepts for it."""

    def __init__(
        self, store: SecretStore, *, clock: Callable[[], float] = time.time, tolerance: int = TOLERANCE_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._tolerance = tolerance

    def verify(self, *, tenant: str, source: str, headers: Mapping[str, str], body: bytes) -> VerifiedDelivery:
        """The verified delivery, or WebhookRejected (UNAUTHENTICATED)."""
        secrets = self._store.secrets_for(tenant, source)
        return verify(headers, body, secrets, now=self._clock(), tolerance=self._tolerance)
