"""Typed, frozen configuration read once from an injected environ; fails fast naming what is missing.

A settings class is a `Settings` model whose fields each name their variable with `setting(…)`:
pydantic converts and checks every value; this module only finds the raw values (the variable, else
the file named by the variable plus `_FILE`) and words pydantic's errors by variable name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticUndefined

S = TypeVar("S", bound="Settings")
_MASKED = "secret"


class ConfigError(Exception):
    """A required setting is missing or cannot be parsed."""


class Settings(BaseModel):
    """Base of every settings class: frozen, no undeclared fields, built by field name in code and
    by variable name from the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)


def setting(env: str, *, default: Any = PydanticUndefined, secret: bool = False) -> Any:
    """Declares a field read from the variable `env` (or the file named by `env`_FILE); a `secret` one
    is masked by `describe`. Without a default the setting is required."""
    return Field(default, validation_alias=env, json_schema_extra={_MASKED: True} if secret else None)


def load(cls: type[S], environ: Mapping[str, str]) -> S:
    """Builds `cls` from `environ`; ConfigError names each variable that is missing or malformed."""
    raw = {env: value for env, _ in _variables(cls) if (value := _raw_value(env, environ)) is not None}
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        # `from None`: pydantic's own message repeats every input, secrets included.
        raise ConfigError("; ".join(_message(cls, error) for error in exc.errors())) from None


def describe(config: Settings) -> dict[str, Any]:
    """The config as a dict for logging, with secrets masked."""
    out: dict[str, Any] = {}
    for name, info in type(config).model_fields.items():
        value = getattr(config, name)
        if _is_secret(info) and value:
            value = "***"
        out[name] = str(value) if isinstance(value, Path) else value
    return out


def _variables(cls: type[Settings]) -> Iterator[tuple[str, FieldInfo]]:
    for info in cls.model_fields.values():
        if isinstance(info.validation_alias, str):
            yield info.validation_alias, info


def _is_secret(info: FieldInfo) -> bool:
    return isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(_MASKED) is True


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


def _message(cls: type[Settings], error: ErrorDetails) -> str:
    if not error["loc"]:  # a rule across settings (a model validator)
        return f"{cls.__name__}: {error['msg'].removeprefix('Value error, ')}"
    env = str(error["loc"][0])
    if error["type"] == "missing":
        return f"missing required setting {env}"
    secret = any(_is_secret(info) for alias, info in _variables(cls) if alias == env)
    shown = "" if secret else f" {error['input']!r}"
    return f"{env}: cannot parse{shown}: {error['msg']}"


class ServiceConfig(Settings):
    """Settings every service process shares."""

    grpc_port: int = setting("TEEI_GRPC_PORT")
    grpc_host: str = setting("TEEI_GRPC_HOST", default="127.0.0.1")
    # A port of this process alone, beside the service's shared one: the edge balances over a worker group's
    # workers by these (services/cli/workers.py) and checks each one's health there.
    grpc_worker_port: int | None = setting("TEEI_GRPC_WORKER_PORT", default=None)
    var_dir: Path = setting("TEEI_VAR_DIR", default=Path("var"))
    database_url: str | None = setting("DATABASE_URL", default=None, secret=True)
    nats_url: str | None = setting("NATS_URL", default=None)
    # Copies JetStream keeps of the event streams: 1 for one server, 3 on a three-node cluster.
    nats_stream_replicas: int = setting("TEEI_NATS_STREAM_REPLICAS", default=1)
    shutdown_grace_seconds: float = setting("TEEI_SHUTDOWN_GRACE_SECONDS", default=15.0)
    # A file the server writes (its pid) once it serves: how `teei up` knows a rolling replacement is ready
    # while its predecessor still answers the health checks on the same port.
    ready_file: Path | None = setting("TEEI_READY_FILE", default=None)
    log_level: str = setting("TEEI_LOG_LEVEL", default="info")
    # A folder of revisions shipped beside each service's own (<folder>/<service>/): a release's expand revision
    # applied by the successor of a rolling upgrade (services/kit/persistence/db.py, docs/data/migrations.md).
    extra_migrations: Path | None = setting("TEEI_EXTRA_MIGRATIONS", default=None)
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
    # The retention policy of the data classes (docs/privacy/retention.md); unset = the shipped config/retention.yaml.
    retention_policy: Path | None = setting("TEEI_RETENTION_POLICY", default=None)
    # Personal fields sealed at rest (services/kit/security/pii): the keyring as a document (production,
    # from a secret) or a file re-read on rotation (default var/pii-keyring.json), and the key store of
    # the subjects' data keys (`{service}` is replaced; default var/keystore/<service>.db).
    pii_keyring: str | None = setting("TEEI_PII_KEYRING", default=None, secret=True)
    pii_keyring_path: Path | None = setting("TEEI_PII_KEYRING_PATH", default=None)
    pii_keystore_url: str | None = setting("TEEI_PII_KEYSTORE_URL", default=None, secret=True)
    # The one key store every service seals and opens event payloads' personal fields with
    # (services/kit/messaging/sealed_events.py); default var/keystore/events.db, shared under `teei up`.
    events_keystore_url: str | None = setting("TEEI_EVENTS_KEYSTORE_URL", default=None, secret=True)
    # In a cluster: refuse to start without a configured keyring and key store (never keep keys in a pod's var/).
    pii_keystore_required: bool = setting("TEEI_PII_KEYSTORE_REQUIRED", default=False)
    # How often the key store re-wraps data keys still wrapped by a retired-to-be KEK.
    pii_rewrap_interval_seconds: float = setting("TEEI_PII_REWRAP_INTERVAL_SECONDS", default=60.0)
