"""Who acts: the validated caller of the RPC being served, the verified mesh peer, or the operator at the CLI.

Never a header or a request field: the auth interceptor binds the token's principal, the trust-policy
interceptor the mTLS peer's SPIFFE id, and `operating(...)` the local operator of a CLI command."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

from services.kit.audit.records import Actor, ActorKind
from services.kit.errors import Unauthenticated
from services.kit.security import tenancy
from services.kit.telemetry import propagation

_operator: ContextVar[Actor | None] = ContextVar("teei_audit_operator", default=None)
UNKNOWN = Actor(ActorKind.ANONYMOUS, "unauthenticated")


def current() -> Actor:
    """The actor of the work in progress: a service's SPIFFE id for service tokens (the mTLS peer when
    verified), a token's subject, the CLI operator, else anonymous."""
    caller = tenancy.current_service_caller()
    try:
        principal = tenancy.current_principal()
    except Unauthenticated:
        principal = None
    if principal is not None and principal.role == "service":
        return Actor(ActorKind.SERVICE, caller.identity if caller is not None else principal.subject)
    if principal is not None:
        return Actor(ActorKind.TOKEN, principal.subject)
    if caller is not None:
        return Actor(ActorKind.SERVICE, caller.identity)
    return _operator.get() or UNKNOWN


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attributes what runs inside, outside any RPC, to `actor` (a CLI command, the service's start-up)."""
    token = _operator.set(actor)
    try:
        yield actor
    finally:
        _operator.reset(token)


def operator() -> Actor:
    """The local operator running a CLI command (`teei keys rotate`, `teei clients create`), by OS user."""
    return Actor(ActorKind.OPERATOR, f"cli:{getpass.getuser()}")


def request_id() -> str:
    """The request id bound for the RPC being served (the edge's x-request-id), or empty."""
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))[:128]


def trace_id() -> str:
    """The trace id of the span in progress, or empty."""
    return propagation.current_trace_id() or ""
