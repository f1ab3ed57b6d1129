"""The one mapping from domain errors to gRPC status codes with google.rpc.Status details."""

from __future__ import annotations

from typing import TypeAlias

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.kit import errors
from services.kit.telemetry import propagation

_CODES: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
}


def code_for(exc: errors.DomainError) -> grpc.StatusCode:
    """The gRPC code for an error class, found by walking its class hierarchy."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.UNKNOWN


def to_rpc_status(exc: errors.DomainError, *, domain: str) -> status_pb2.Status:
    """A google.rpc.Status carrying ErrorInfo (and BadRequest when fields are named)."""
    code = code_for(exc)
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=domain, metadata=exc.metadata)
    details = [_pack(info)]
    if exc.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        details.append(_pack(bad_request))
    details.append(_pack(request_info()))
    return status_pb2.Status(code=code.value[0], message=exc.message, details=details)


def internal_status(request_id: str) -> status_pb2.Status:
    """The status for an unexpected failure: no internals leak, the request id lets operators find it."""
    metadata = {"request_id": request_id}
    trace_id = propagation.current_trace_id()
    if trace_id:
        metadata["trace_id"] = trace_id
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain="teei", metadata=metadata)
    return status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error (request id {request_id})",
        details=[_pack(info), _pack(request_info(request_id))],
    )


def request_info(request_id: str | None = None) -> error_details_pb2.RequestInfo:
    """Which request failed and in which trace: the request id (the edge's x-request-id) and
    `trace_id=<hex>` as serving data, so a user's report leads to the trace (`teei traces get`)."""
    bound = structlog.contextvars.get_contextvars().get("request_id")
    trace_id = propagation.current_trace_id()
    return error_details_pb2.RequestInfo(
        request_id=request_id or str(bound or ""), serving_data=f"trace_id={trace_id}" if trace_id else ""
    )


Detail: TypeAlias = error_details_pb2.ErrorInfo | error_details_pb2.BadRequest | error_details_pb2.RequestInfo


def _pack(message: Detail) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
