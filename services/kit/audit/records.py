"""Audit records: what an action records, how personal data is redacted from its diff, and the hash chain."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64  # the prev_hash of a chain's first record
REDACTED = "[redacted]"
REDACTED_EMAIL = "[redacted:email]"
# Fields naming or reaching a person: their values never enter the audit log.
PII_FIELDS = frozenset(
    {
        "email",
        "emails",
        "given_name",
        "family_name",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "display_name",
        "phone",
        "address",
        "notes",
        "text",
        "client_secret",
        "secret",
        "password",
    }
)
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[^\s@<>\"']+")


class Outcome(StrEnum):
    """How the audited action ended."""

    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class ActorKind(StrEnum):
    """How the actor was proven: the subject of the caller's validated token, a machine client by its secret,
    a user by an SSO provider, a mesh service by its certificate (SPIFFE id), the operator at the CLI, the
    service itself (start-up), or not at all (a failed authentication)."""

    TOKEN = "token"  # noqa: S105 - a kind of actor, not a secret
    CLIENT = "client"
    USER = "user"
    SERVICE = "service"
    OPERATOR = "operator"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Actor:
    """The proven identity an action is attributed to."""

    kind: ActorKind
    id: str


@dataclass(frozen=True)
class AuditEntry:
    """What a handler records: the action on a resource, its outcome and the change (before/after)."""

    action: str
    resource: str
    tenant: str | None = None
    outcome: Outcome = Outcome.SUCCESS
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    # Set only where the actor is proven by the action itself (a client authenticated by its secret);
    # otherwise the validated caller of the RPC being served.
    actor: Actor | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One stored record of the chain."""

    sequence: int
    recorded_at: datetime
    actor: str
    actor_kind: str
    tenant: str | None
    action: str
    resource: str
    outcome: str
    request_id: str
    trace_id: str
    diff: str
    prev_hash: str
    hash: str = field(default="")

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field but the hash, as canonical JSON (sorted keys, no spaces)."""
        body = {
            "sequence": self.sequence,
            "recorded_at": timestamp(self.recorded_at),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "tenant": self.tenant,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "request_id": self.request_id,
            "trace_id": self.trace_id,
            "diff": json.loads(self.diff),
            "prev_hash": self.prev_hash,
        }
        return canonical_json(body)

    def computed_hash(self) -> str:
        """SHA-256 (hex) of the canonical record, which includes the previous record's hash."""
        return hashlib.sha256(self.canonical()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """One byte form per value: sorted keys, no insignificant spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def timestamp(moment: datetime) -> str:
    """An aware time as UTC ISO 8601 with microseconds, the form the hash covers."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """The change as canonical JSON `{"before": …, "after": …}` with personal data redacted."""
    return canonical_json({"before": redact(before), "after": redact(after)}).decode("utf-8")


def redact(value: Any, key: str = "") -> Any:
    """The value with every personal field replaced by a marker and every e-mail address in text masked."""
    if key.lower() in PII_FIELDS and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [redact(item) for item in items]
    if isinstance(value, datetime):
        return timestamp(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _EMAIL.sub(REDACTED_EMAIL, str(value))
