"""Standard Webhooks signatures: verification over the exact request bytes, the per (tenant, source)
secrets file re-read on change (rotation without restart), and the signing side for senders and tests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.kit import tenants
from services.kit.config import Settings, load, setting
from services.kit.errors import Unauthenticated, Unavailable
from services.kit.logs import get_logger

log = get_logger(__name__)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
DEFAULT_SECRETS_FILE = Path("secrets") / "webhook-secrets.json"
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
        """The verified delivery, or WebhookRejected (UNAUTHENTICATED) naming why."""
        accepted = self._store.secrets_for(tenant, source)
        try:
            return verify(headers, body, accepted, now=self._clock(), tolerance=self._tolerance)
        except WebhookRejected as exc:
            log.info("webhooks.rejected", tenant=tenant, source=source, reason=exc.reason)
            if exc.reason != "WEBHOOK_NO_SECRET":
                raise
            message = f"no webhook secret is configured for this tenant and source {source!r}"
            raise WebhookRejected(exc.reason, message) from None


# Delivery headers


def headers_from(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """The Standard Webhooks headers of a call's invocation metadata (Envoy forwards HTTP headers as metadata)."""
    found: dict[str, str] = {}
    for key, value in metadata or ():
        name = key.lower()
        if name in SIGNATURE_HEADERS and isinstance(value, str):
            # A repeated signature header adds signatures; a repeated id or timestamp keeps the last.
            repeated = name == "webhook-signature" and name in found
            found[name] = f"{found[name]} {value}" if repeated else value
    return found


def signed_headers(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers a sender puts on `body` (a fresh message id and the current time unless given)."""
    message_id = message_id or f"msg_{secrets.token_hex(12)}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def signed_metadata(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> tuple[tuple[str, str], ...]:
    """The same headers as gRPC call metadata, for native gRPC senders and tests."""
    return tuple(signed_headers(secret, body, message_id=message_id, timestamp=timestamp).items())


# Secrets: generation, fingerprints and the secrets file


def generate_secret() -> str:
    """A new `whsec_` secret of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def fingerprint(secret: str) -> str:
    """A short, non-reversible name of a secret for listings and logs: 12 hex digits of SHA-256 of its key."""
    return hashlib.sha256(decode_secret(secret)).hexdigest()[:12]


class WebhookSettings(Settings):
    """Where the webhook secrets file lives (read with `services.kit.config.load`)."""

    secrets_file: Path | None = setting("TEEI_WEBHOOK_SECRETS_FILE", default=None)

    def path(self, var_dir: Path) -> Path:
        """TEEI_WEBHOOK_SECRETS_FILE, else `<var dir>/secrets/webhook-secrets.json`."""
        return self.secrets_file if self.secrets_file is not None else var_dir / DEFAULT_SECRETS_FILE


def secrets_path(var_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The secrets file of a mesh whose data lives in `var_dir`."""
    return load(WebhookSettings, os.environ if environ is None else environ).path(var_dir)


SecretTable = dict[str, dict[str, list[str]]]


def parse_secrets(text: str) -> SecretTable:
    """The `{"<tenant>": {"<source>": ["whsec_…", …]}}` document; ValueError names what is malformed."""
    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON (line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise ValueError("the top level must be an object of tenants")
    table: SecretTable = {}
    for tenant, sources in document.items():
        if not tenants.is_tenant(tenant):
            raise ValueError(f"tenant {tenant!r} is not a tenant id ({tenants.GRAMMAR})")
        if not isinstance(sources, dict):
            raise ValueError(f"tenant {tenant!r} must map to an object of sources")
        table[tenant] = {}
        for source, listed in sources.items():
            if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
                raise ValueError(f"{tenant!r}/{source!r} must be a list of secrets")
            table[tenant][source] = list(listed)
    return table


class FileSecrets:
    """Secrets from the JSON secrets file, re-read whenever the file changes, so rotation needs no restart.

    A missing file holds no secrets (every delivery is refused); a malformed one fails closed
    (UNAVAILABLE) until it is fixed. A secret that does not decode is skipped with a warning.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, ...] | None = None
        self._table: dict[tuple[str, str], tuple[str, ...]] = {}
        self._error: str | None = None

    def secrets_for(self, tenant: str, source: str) -> Sequence[str]:
        """The secrets currently accepted for (tenant, source), as of the file's latest version."""
        with self._lock:
            self._refresh()
            if self._error is not None:
                raise WebhookSecretsUnavailable("webhook secrets cannot be read; the operator must fix the file")
            return self._table.get((tenant, source), ())

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._table, self._error = None, {}, None
            return
        except OSError as exc:
            self._fail(f"cannot stat: {exc.strerror}")
            return
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
        if version != self._seen:
            self._load(stat.st_mode)
            self._seen = version

    def _load(self, mode: int) -> None:
        if mode & 0o077:
            log.warning("webhooks.secrets_file_too_open", path=str(self.path), mode=oct(mode & 0o777))
        try:
            table = parse_secrets(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self._fail(str(exc))
            return
        self._table = {(t, s): _usable(t, s, listed) for t, sources in table.items() for s, listed in sources.items()}
        self._error = None
        log.info("webhooks.secrets_loaded", path=str(self.path), entries=len(self._table))

    def _fail(self, reason: str) -> None:
        self._table, self._error = {}, reason
        log.error("webhooks.secrets_unreadable", path=str(self.path), reason=reason)


def _usable(tenant: str, source: str, listed: Sequence[str]) -> tuple[str, ...]:
    usable = []
    for index, secret in enumerate(listed):
        try:
            decode_secret(secret)
        except ValueError as exc:
            log.warning("webhooks.secret_skipped", tenant=tenant, source=source, index=index, reason=str(exc))
            continue
        usable.append(secret)
    return tuple(usable)


class WebhookSecretsUnavailable(Unavailable):
    """The secrets file exists but cannot be read or parsed: fail closed, the sender retries later."""

    reason = "WEBHOOK_SECRETS_UNREADABLE"


def configured_store(var_dir: Path, environ: Mapping[str, str] | None = None) -> FileSecrets:
    """The production secret store of a service whose data lives in `var_dir`."""
    return FileSecrets(secrets_path(var_dir, environ))
