"""The kit's server interceptors: call logging, error mapping, malformed requests, draining,
authentication, control characters in request strings."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar, TypeAlias

import grpc
import structlog
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status
from opentelemetry import trace

from services.kit import errors
from services.kit.audit import denials as denial_log
from services.kit.grpc import call_headers, request_text, status
from services.kit.logs import get_logger
from services.kit.security import access, auth, tenancy
from services.kit.telemetry import errors_report

log = get_logger(__name__)
# Trailing metadata of a call a draining server refused without running it: safe to send elsewhere.
DRAINING_HEADER = "teei-draining"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# (caller SPIFFE ID, '/pkg.Service/Method') → may it call that RPC acting for a tenant on its own?
ActingGrant: TypeAlias = Callable[[str, str], bool]
Scope: TypeAlias = Callable[
    [grpc.HandlerCallDetails, "grpc.aio.ServicerContext[Any, Any]"], AbstractAsyncContextManager[None]
]


class ScopedInterceptor(grpc.aio.ServerInterceptor):
    """An interceptor expressed as an async context manager around each call's behaviour."""

    # True for interceptors that platform RPCs (health, reflection) pass untouched.
    skips_platform_methods: ClassVar[bool] = False

    def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or (self.skips_platform_methods and access.is_platform_method(handler_call_details.method)):
            return handler
        return _wrap_handler(handler, handler_call_details, self.scope)


def _wrap_handler(handler: Handler, details: grpc.HandlerCallDetails, scope: Scope) -> Handler:
    kinds = (
        ("unary_unary", grpc.unary_unary_rpc_method_handler),
        ("unary_stream", grpc.unary_stream_rpc_method_handler),
        ("stream_unary", grpc.stream_unary_rpc_method_handler),
        ("stream_stream", grpc.stream_stream_rpc_method_handler),
    )
    for attribute, factory in kinds:
        behaviour = getattr(handler, attribute)
        if behaviour is not None:
            wrapped: Handler = factory(
                _wrap_behaviour(behaviour, details, scope),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            return wrapped
    return handler


def _wrap_behaviour(behaviour: Any, details: grpc.HandlerCallDetails, scope: Scope) -> Any:
    if inspect.isasyncgenfunction(behaviour):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with scope(details, context):
                async for response in behaviour(request, context):
                    yield response

        return streaming

    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with scope(details, context):
            return await behaviour(request, context)

    return single


def _metadata(context: grpc.aio.ServicerContext[Any, Any]) -> Mapping[str, str]:
    return call_headers.headers(context)


class LoggingInterceptor(ScopedInterceptor):
    """Binds request id and RPC method to every log line of the call; logs its outcome."""

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        request_id = _metadata(context).get("x-request-id", uuid.uuid4().hex)
        quiet = access.is_platform_method(details.method)
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id, rpc_method=details.method):
            if not quiet:
                log.info("rpc.started")
            try:
                yield
            finally:
                if not quiet:
                    code = context.code()
                    name = code.name if isinstance(code, grpc.StatusCode) else "OK"
                    elapsed = round((time.perf_counter() - started) * 1000, 3)
                    log.info("rpc.finished", code=name, duration_ms=elapsed)


class ErrorInterceptor(ScopedInterceptor):
    """Maps domain errors to gRPC status with google.rpc.Status details; hides unexpected ones."""

    def __init__(self, *, domain: str) -> None:
        self._domain = domain

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            yield
        except errors.DomainError as exc:
            log.info("rpc.rejected", reason=exc.reason, error=exc.message)
            await context.abort_with_status(rpc_status.to_status(status.to_rpc_status(exc, domain=self._domain)))
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except NotImplementedError:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{details.method} is not implemented yet")
        except Exception as exc:
            request_id = structlog.contextvars.get_contextvars().get("request_id", "unknown")
            log.exception("rpc.failed")
            errors_report.capture_exception(exc, metadata=_metadata(context))
            await context.abort_with_status(rpc_status.to_status(status.internal_status(str(request_id))))


class MalformedRequest:
    """Stands in for a request whose bytes did not parse, so the call can answer INVALID_ARGUMENT."""

    def __init__(self, error: str) -> None:
        self.error = error


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    """Bytes that are not the request message (e.g. a transcoder fed a JSON object where an int64 map
    value belongs) are the caller's error: INVALID_ARGUMENT, not an opaque UNKNOWN."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        parse = handler.request_deserializer

        def tolerant(raw: bytes) -> Any:
            try:
                return parse(raw)
            except DecodeError as exc:
                return MalformedRequest(str(exc))

        return _checked(handler, _refuse_malformed, deserializer=tolerant)


def _refuse_malformed(request: Any) -> None:
    if isinstance(request, MalformedRequest):
        raise errors.InvalidArgument(
            "the request body does not match the request message",
            violations=[errors.FieldViolation("body", request.error)],
        )


class ControlCharacterInterceptor(grpc.aio.ServerInterceptor):
    """A string field of the request holding a control character (NUL, an escape, DEL…) anywhere,
    nested messages, repeated fields and maps included, is INVALID_ARGUMENT naming the field; tab and
    line breaks pass for free text. Bytes fields and HttpBody payloads are their parsers' to check."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        return _checked(handler, _refuse_controls)


def _refuse_controls(request: Any) -> None:
    found = request_text.control_violations(request) if isinstance(request, Message) else []
    if found:
        first = f"{found[0].field} {found[0].description}"
        more = f"; and {len(found) - 1} more" if len(found) > 1 else ""
        raise errors.InvalidArgument(first + more, violations=found)


def _checked(handler: Handler, check: Callable[[Any], None], *, deserializer: Any = None) -> Handler:
    """The unary-request `handler` with `check` run on each request before its behaviour."""
    kind = "unary_unary" if handler.unary_unary is not None else "unary_stream"
    factory = grpc.unary_unary_rpc_method_handler if kind == "unary_unary" else grpc.unary_stream_rpc_method_handler
    checked: Handler = factory(
        _checking(getattr(handler, kind), check),
        request_deserializer=deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return checked


def _checking(behaviour: Any, check: Callable[[Any], None]) -> Any:
    if inspect.isasyncgenfunction(behaviour):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            check(request)
            async for response in behaviour(request, context):
                yield response

        return streaming

    async def single(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        check(request)
        return await behaviour(request, context)

    return single


class InFlightTracker(ScopedInterceptor):
    """Counts in-flight RPCs so shutdown can drain them; refuses new work once draining."""

    skips_platform_methods = True

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        if self.draining:
            # Refused before anything ran: the header tells the edge this call may go to another process
            # (Envoy's retriable_headers), which a rolling restart relies on for zero failed requests.
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "server is shutting down; retry on another instance",
                trailing_metadata=((DRAINING_HEADER, "1"),),
            )
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    def start_draining(self) -> None:
        """From now on new RPCs are refused with UNAVAILABLE."""
        self.draining = True

    async def wait_idle(self, limit: float) -> bool:
        """Waits until no RPC is in flight; False when `limit` seconds passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), limit)
        except TimeoutError:
            return False
        return True


class AuthInterceptor(ScopedInterceptor):
    """Authenticates the caller by its bearer token, checks the RPC's declared permission and binds
    the caller (and so the tenant) for the call. An RPC without an access rule is refused. A refusal of a
    proven caller, here or by the handler (PermissionDenied, Concealed), is recorded in `denials`."""

    skips_platform_methods = True

    def __init__(
        self,
        validator: auth.TokenValidator,
        *,
        may_act: ActingGrant | None = None,
        denials: denial_log.Recorder | None = None,
    ) -> None:
        self._validator = validator
        self._may_act = may_act
        self._denials = denials

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        rule = access.rule_for(details.method)
        if rule is None:
            raise errors.PermissionDenied("this RPC declares no access rule")
        principal, token = None, None
        raw = _metadata(context).get("authorization")
        caller = tenancy.current_service_caller()
        if rule.public:
            pass
        elif raw is None and caller is not None and caller.tenant is not None:
            async with self._recording(details.method):
                principal = self._acting(caller, details.method)
        else:
            token = auth.bearer_token(raw)
            principal = await self._authenticate(token)
        tenant = None if principal is None else principal.tenant
        subject = None if principal is None else principal.subject
        bound = tenancy.bound_principal(principal, token)
        errors_report.note_tenant(tenant)
        if tenant is not None:
            trace.get_current_span().set_attribute("teei.tenant_id", tenant)
        # The caller is bound before the permission check, so a refusal is attributed to them.
        with bound, structlog.contextvars.bound_contextvars(tenant=tenant, sub=subject):
            async with self._recording(details.method):
                if token is not None and principal is not None:
                    auth.authorize(principal, rule, method=details.method)
                yield

    @asynccontextmanager
    async def _recording(self, method: str) -> AsyncIterator[None]:
        """Records a refusal raised inside, attributed to the caller proven so far, then lets it propagate."""
        try:
            yield
        except errors.DomainError as exc:
            denial = denial_log.of(exc, rpc=method) if denial_log.refused(exc) else None
            if denial is not None and self._denials is not None:
                await self._denials.record(denial)
            raise

    def _acting(self, caller: tenancy.ServiceCaller, method: str) -> auth.Principal:
        """A mesh service acting for a tenant on its own: only for the RPCs the trust policy grants it."""
        if self._may_act is None or not self._may_act(caller.identity, method):
            raise errors.PermissionDenied(
                "this service may not call this RPC for a tenant on its own", metadata={"caller": caller.identity}
            )
        return auth.Principal(subject=caller.identity, tenant=caller.tenant, role="service")

    async def _authenticate(self, token: str) -> auth.Principal:
        kid = self._validator.kid(token)
        if kid is not None and self._validator.jwks.needs_fetch(kid):
            # Fetching keys is I/O: off the event loop, and at most once per refresh interval.
            await asyncio.to_thread(self._validator.jwks.key, kid)
        return self._validator.validate(token)
