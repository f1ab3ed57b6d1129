"""Typed, frozen configuration read once from an injected environ; fails fast naming what is missing."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(Exception):
    """A required setting is missing or cannot be parsed."""


def setting(env: str, *, default: Any = dataclasses.MISSING, secret: bool = False) -> Any:
    """Declares a config field read from `env` (or from the file named by `env`_FILE)."""
    return dataclasses.field(default=default, metadata={"env": env, "secret": secret})


def load(cls: type[C], environ: Mapping[str, str]) -> C:
    """Builds the frozen config dataclass `cls` from `environ`, converting each value to its type."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        env = field.metadata["env"]
        raw = _raw_value(env, environ)
        if raw is None:
            if field.default is dataclasses.MISSING:
                raise ConfigError(f"missing required setting {env}")
            continue
        values[field.name] = _convert(env, raw, hints[field.name])
    return cls(**values)


def describe(config: object) -> dict[str, Any]:
    """The config as a dict for logging, with secrets masked."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if field.metadata.get("secret") and value:
            value = "***"
        out[field.name] = str(value) if isinstance(value, Path) else value
    return out


def _raw_value(env: str, environ: Mapping[str, str]) -> str | None:
    if env in environ:
        return environ[env]
    file_env = f"{env}_FILE"
    if file_env in environ:
        try:
            return Path(environ[file_env]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{file_env}: cannot read {environ[file_env]}: {exc}") from exc
    return None


def _convert(env: str, raw: str, kind: Any) -> Any:
    if isinstance(kind, types.UnionType):
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    try:
        if kind is bool:
            return _parse_bool(raw)
        if kind in (int, float, str, Path):
            return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{env}: cannot parse {raw!r} as {kind.__name__}") from exc
    raise ConfigError(f"{env}: unsupported setting type {kind!r}")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    """Settings every service process shares."""

    grpc_port: int = setting("TEEI_GRPC_PORT")
    grpc_host: str = setting("TEEI_GRPC_HOST", default="127.0.0.1")
    var_dir: Path = setting("TEEI_VAR_DIR", default=Path("var"))
    database_url: str | None = setting("DATABASE_URL", default=None, secret=True)
    nats_url: str | None = setting("NATS_URL", default=None)
    shutdown_grace_seconds: float = setting("TEEI_SHUTDOWN_GRACE_SECONDS", default=15.0)
    log_level: str = setting("TEEI_LOG_LEVEL", default="info")
    # Folder of the mesh CA and certificates (`teei certs`); when set the server requires mTLS.
    mtls_dir: Path | None = setting("TEEI_MTLS_DIR", default=None)
    # Access tokens: who issues them, for which audience, and where the issuer publishes its keys.
    auth_issuer: str = setting("TEEI_AUTH_ISSUER", default="http://localhost:8080")
    auth_audience: str = setting("TEEI_AUTH_AUDIENCE", default="teei-api")
    jwks_url: str | None = setting("TEEI_JWKS_URL", default=None)
    # Idempotency-Key records: how long a completed call is replayed, and how long a claim of a call
    # still running holds before it counts as abandoned (longer than any request deadline).
    idempotency_ttl_hours: float = setting("TEEI_IDEMPOTENCY_TTL_HOURS", default=24.0)
    idempotency_pending_seconds: float = setting("TEEI_IDEMPOTENCY_PENDING_SECONDS", default=300.0)
    # Retention of de-duplication records (services/kit/persistence/retention.py). The inbox must outlive every
    # JetStream redelivery and dead-letter replay window, webhook de-dup every sender's retry window.
    retention_interval_seconds: float = setting("TEEI_RETENTION_INTERVAL_SECONDS", default=3600.0)
    inbox_retention_days: float = setting("TEEI_INBOX_RETENTION_DAYS", default=14.0)
    outbox_retention_days: float = setting("TEEI_OUTBOX_RETENTION_DAYS", default=7.0)
    webhook_dedup_retention_days: float = setting("TEEI_WEBHOOK_DEDUP_RETENTION_DAYS", default=30.0)
