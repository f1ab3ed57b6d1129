"""Idempotency-Key on mutating RPCs: the first call with a key runs and its response is stored; a repeat
of the same request with the same key replays that response instead of running again (docs/idempotency.md).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeAlias

import grpc
import sqlalchemy as sa
from google.api import annotations_pb2
from google.protobuf import descriptor, descriptor_pool, message, message_factory
from sqlalchemy import orm

from services.kit import errors
from services.kit.clock import Clock, utc_now
from services.kit.logs import get_logger
from services.kit.security import access, pii, tenancy
from services.kit.telemetry import metrics

log = get_logger(__name__)
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Behaviour = Callable[[Any, Context], Awaitable[Any]]

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
HEADER_NAME = "Idempotency-Key"
PENDING, COMPLETED = "PENDING", "COMPLETED"
_KEY = re.compile(r"[\x20-\x7e]{1,255}")

metadata = sa.MetaData()
table = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant", sa.String(63), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column("method", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("claim_id", sa.String(32), nullable=False),
    sa.Column("response", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class IdempotencyKeyReused(errors.Conflict):
    """The key was already used for a different request by the same caller on the same RPC."""

    reason = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyInProgress(errors.Conflict):
    """The first call with this key is still running; retry once it has answered."""

    reason = "IDEMPOTENCY_KEY_IN_PROGRESS"


def validate_key(value: str) -> str:
    """The key when it is 1-255 printable ASCII characters, else INVALID_ARGUMENT naming the header."""
    if _KEY.fullmatch(value) is None:
        raise errors.InvalidArgument(
            f"the {HEADER_NAME} header must be 1-255 printable ASCII characters",
            violations=[errors.FieldViolation(HEADER_NAME, "must be 1-255 printable ASCII characters")],
        )
    return value


def key_of(context: Context) -> str | None:
    """The call's validated Idempotency-Key, or None when it sent none."""
    values = [v for k, v in (context.invocation_metadata() or ()) if k == HEADER]
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise errors.InvalidArgument(
            f"send one {HEADER_NAME} header", violations=[errors.FieldViolation(HEADER_NAME, "sent more than once")]
        )
    return validate_key(values[0])


def fingerprint(method_path: str, request: message.Message) -> str:
    """SHA-256 (hex) of the RPC path and the request's deterministic serialization."""
    digest = hashlib.sha256(method_path.encode())
    digest.update(b"\0")
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


def _method(method_path: str) -> descriptor.MethodDescriptor | None:
    service_name, method_name = access.split_method(method_path)
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    found: descriptor.MethodDescriptor | None = service.methods_by_name.get(method_name)
    return found


def is_mutating_method(method: descriptor.MethodDescriptor) -> bool:
    """True for a unary, non-public RPC whose google.api.http binding is not GET."""
    if method.client_streaming or method.server_streaming:
        return False
    rule = access.rule_of(method)
    options = method.GetOptions()
    if rule is None or rule.public or not options.HasExtension(annotations_pb2.http):
        return False
    pattern: str | None = options.Extensions[annotations_pb2.http].WhichOneof("pattern")
    return pattern != "get"


@lru_cache(maxsize=1024)
def is_mutating(method_path: str) -> bool:
    """Whether the RPC at `/pkg.Service/Method` accepts an Idempotency-Key."""
    method = _method(method_path)
    return method is not None and is_mutating_method(method)


def output_class(method_path: str) -> type[message.Message]:
    """The response message class of an RPC, for replaying stored responses."""
    method = _method(method_path)
    if method is None:
        raise LookupError(f"unknown RPC {method_path}")
    cls: type[message.Message] = message_factory.GetMessageClass(method.output_type)
    return cls


@dataclass(frozen=True)
class Scope:
    """Whose key it is: a key names one call of one caller of one tenant on one RPC."""

    tenant: str
    subject: str
    method: str
    key: str

    @classmethod
    def current(cls, method: str, key: str) -> Scope:
        """The scope of `key` for the caller of the RPC being served."""
        principal = tenancy.current_principal()
        return cls(tenant=principal.tenant or "", subject=principal.subject, method=method, key=key)

    def where(self) -> sa.ColumnElement[bool]:
        """The row of this scope."""
        c = table.c
        return sa.and_(c.tenant == self.tenant, c.subject == self.subject, c.method == self.method, c.key == self.key)


@dataclass(frozen=True)
class Claimed:
    """This call holds the key and runs the RPC."""

    scope: Scope
    claim_id: str


@dataclass(frozen=True)
class Completed:
    """An earlier call with the key and the same request completed with this serialized response."""

    response: bytes


class IdempotencyStore:
    """The `idempotency_keys` table: claim, complete, release. Every step is its own short transaction."""

    def __init__(self, engine: sa.Engine, *, ttl: timedelta, pending: timedelta, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.ttl = ttl
        self.pending = pending
        self.clock = clock

    def claim(self, scope: Scope, digest: str) -> Claimed | Completed:
        """Claims the key for this request, or returns the completed answer; raises a Conflict when the key
        belongs to another request or its first call is still running."""
        for _ in range(3):
            try:
                with self.engine.begin() as connection:
                    outcome = self._claim(connection, scope, digest)
            except sa.exc.IntegrityError:
                continue  # a concurrent first call inserted the row between our read and insert
            if outcome is not None:
                return outcome
        raise IdempotencyKeyInProgress(f"a call with this {HEADER_NAME} is in progress; retry later")

    def _claim(self, connection: sa.Connection, scope: Scope, digest: str) -> Claimed | Completed | None:
        now = self.clock()
        row = connection.execute(sa.select(table).where(scope.where())).first()
        claimed = Claimed(scope, uuid.uuid4().hex)
        fresh = {
            "fingerprint": digest,
            "state": PENDING,
            "claim_id": claimed.claim_id,
            "response": None,
            "created_at": now,
            "expires_at": now + self.pending,
        }
        if row is None:
            connection.execute(table.insert().values(**_scope_values(scope), **fresh))
            return claimed
        if _aware(row.expires_at) > now:
            return _settled(row, digest, scope, connection)
        # Expired (an abandoned claim or an old answer not purged yet): take it over unless another call did.
        taken = connection.execute(
            table.update()
            .where(scope.where(), table.c.claim_id == row.claim_id, table.c.state == row.state)
            .values(**fresh)
        )
        return claimed if taken.rowcount == 1 else None

    def complete(self, claimed: Claimed, response: bytes) -> None:
        """Stores the answer of the claimed call; replayed until the TTL passes."""
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                table.update()
                .where(claimed.scope.where(), table.c.claim_id == claimed.claim_id)
                .values(
                    state=COMPLETED,
                    response=sealed_reply(connection, claimed.scope, response),
                    expires_at=now + self.ttl,
                )
            )

    def release(self, claimed: Claimed) -> None:
        """Forgets the claim of a call that failed, so the caller may retry with the same key."""
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(claimed.scope.where(), table.c.claim_id == claimed.claim_id))


def _scope_values(scope: Scope) -> dict[str, str]:
    return {"tenant": scope.tenant, "subject": scope.subject, "method": scope.method, "key": scope.key}


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def sealed_reply(connection: sa.Connection, scope: Scope, response: bytes) -> bytes:
    """The stored form of a reply: sealed where the service seals personal data (a reply may repeat a
    person's e-mail or name), with the caller's reply key, bound to the call's scope."""
    cipher = pii.optional(connection)
    if cipher is None:
        return response
    text = base64.b64encode(response).decode()
    return cipher.seal(
        text, company_id=scope.tenant, subject=_REPLIES + scope.subject, field=_FIELD, record=_record(scope)
    ).encode()


def opened_reply(connection: sa.Connection | orm.Session, scope: Scope, stored: bytes) -> bytes:
    """A stored reply as the call answered it (sealed or not)."""
    if not stored.startswith(pii.cipher.PREFIX.encode()):
        return stored
    return base64.b64decode(pii.attached(connection).open(stored.decode(), field=_FIELD, record=_record(scope)))


_REPLIES = "replies/"
_FIELD = "idempotency_keys.response"


def _record(scope: Scope) -> str:
    return "\x1f".join((scope.subject, scope.method, scope.key))


def _settled(row: sa.Row[Any], digest: str, scope: Scope, connection: sa.Connection) -> Completed:
    if row.fingerprint != digest:
        raise IdempotencyKeyReused(
            f"this {HEADER_NAME} was already used for a different request; use a new key for a new request"
        )
    if row.state != COMPLETED:
        raise IdempotencyKeyInProgress(f"the first call with this {HEADER_NAME} is still running; retry later")
    return Completed(opened_reply(connection, scope, row.response))


class IdempotencyInterceptor(grpc.aio.ServerInterceptor):
    """Applies Idempotency-Key to unary mutating RPCs; sits after the auth interceptor (needs the caller)."""

    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or not is_mutating(method):
            return handler
        guarded: Handler = grpc.unary_unary_rpc_method_handler(
            # grpc.aio runs the coroutine function the servicer registered; the stubs type it as sync.
            self._guard(handler.unary_unary, method),  # type: ignore[arg-type]
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return guarded

    def _guard(self, behaviour: Behaviour, method: str) -> Behaviour:
        async def guarded(request: Any, context: Context) -> Any:
            key = key_of(context)
            if key is None:
                return await behaviour(request, context)
            claim = await asyncio.to_thread(self._store.claim, Scope.current(method, key), fingerprint(method, request))
            if isinstance(claim, Completed):
                log.info("idempotency.replayed")
                metrics.IDEMPOTENCY_REPLAYS.labels(method).inc()
                await context.send_initial_metadata(((REPLAYED_HEADER, "true"),))
                return output_class(method).FromString(claim.response)
            return await self._execute(claim, behaviour, request, context)

        return guarded

    async def _execute(self, claimed: Claimed, behaviour: Behaviour, request: Any, context: Context) -> Any:
        try:
            response = await behaviour(request, context)
        except asyncio.CancelledError:
            # The handler's thread may still commit: the claim stays until it expires (docs/idempotency.md).
            raise
        except BaseException:
            await asyncio.to_thread(self._store.release, claimed)
            raise
        code = context.code()
        if response is None or code not in (None, grpc.StatusCode.OK):
            await asyncio.to_thread(self._store.release, claimed)
            return response
        try:
            await asyncio.to_thread(self._store.complete, claimed, response.SerializeToString(deterministic=True))
        except sa.exc.SQLAlchemyError:
            # The work is done: answer it; the claim expires and the key then runs again (crash window).
            log.exception("idempotency.complete_failed")
        return response
