"""Proto ⇄ domain for the privacy RPCs: requests become ReceivePrivacyRequest commands with the caller's
identity from the validated token, and requests, outcomes and bundles become their proto messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.domain.privacy import PartStatus, PrivacyRequest, RequestKind, RequestStatus, ServiceOutcome
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.security.auth import Principal
from teei.common.v1 import types_pb2
from teei.gateway.v1 import gateway_pb2

MAX_REQUEST_ID = 255
STATUS_TO_PROTO = {
    RequestStatus.RECEIVED: gateway_pb2.PRIVACY_REQUEST_STATUS_PENDING,
    RequestStatus.IN_PROGRESS: gateway_pb2.PRIVACY_REQUEST_STATUS_IN_PROGRESS,
    RequestStatus.COMPLETED: gateway_pb2.PRIVACY_REQUEST_STATUS_COMPLETED,
    RequestStatus.FAILED: gateway_pb2.PRIVACY_REQUEST_STATUS_FAILED,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
EXPIRED = gateway_pb2.PRIVACY_REQUEST_STATUS_EXPIRED
KIND_TO_PROTO = {
    RequestKind.EXPORT: gateway_pb2.PRIVACY_REQUEST_KIND_EXPORT,
    RequestKind.ERASURE: gateway_pb2.PRIVACY_REQUEST_KIND_DELETE,
}
KIND_FROM_PROTO = {v: k for k, v in KIND_TO_PROTO.items()}


def own_request(
    kind: RequestKind, principal: Principal, tenant: str, *, key: str, reason: str = "", confirm: bool = False
) -> ReceivePrivacyRequest:
    """The caller's own data: the subject is the e-mail of their validated token, never a request field."""
    return ReceivePrivacyRequest(
        kind=kind.value,
        company_id=tenant,
        requested_by=principal.subject,
        email=principal.email or "",
        reason=reason,
        own=True,
        confirm=confirm,
        client_key=_key(key),
    )


def subject_request(
    kind: RequestKind,
    subject: types_pb2.DataSubject,
    principal: Principal,
    tenant: str,
    *,
    key: str,
    reason: str,
    confirm: bool = False,
) -> ReceivePrivacyRequest:
    """A person of the caller's company (the token's tenant: a subject of another company is never found)."""
    return ReceivePrivacyRequest(
        kind=kind.value,
        company_id=tenant,
        requested_by=principal.subject,
        profile_id=subject.profile_id,
        email=subject.email,
        reason=reason,
        confirm=confirm,
        client_key=_key(key),
    )


def status_filter(status: gateway_pb2.PrivacyRequestStatus.ValueType) -> tuple[RequestStatus | None, bool | None]:
    """A listing's status filter as (stored status, whether the export bundle expired): EXPIRED is a completed
    export whose bundle is gone, COMPLETED any other completed request."""
    if status == EXPIRED:
        return RequestStatus.COMPLETED, True
    found = STATUS_FROM_PROTO.get(status)
    return found, (False if found is RequestStatus.COMPLETED else None)


def to_proto(
    request: PrivacyRequest, *, bundle_expires_at: datetime | None = None, bundle_expired: bool = False
) -> gateway_pb2.PrivacyRequest:
    """The request as clients see it, due date and every service's outcome included; a completed export
    with when its bundle is deleted, and read as expired once it is."""
    message = gateway_pb2.PrivacyRequest(
        request_id=request.request_id,
        kind=KIND_TO_PROTO[request.kind],
        subject=types_pb2.DataSubject(profile_id=request.subject.profile_id, email=request.subject.email),
        requested_by=request.requested_by,
        reason=request.reason,
        status=EXPIRED if bundle_expired else STATUS_TO_PROTO[request.status],
        outcomes=[_outcome(o) for o in request.outcomes],
        create_time=_timestamp(request.created_at),
        due_time=_timestamp(request.due_at),
        company_id=request.subject.company_id,
    )
    if request.completed_at is not None:
        message.complete_time.CopyFrom(_timestamp(request.completed_at))
    if bundle_expires_at is not None:
        message.bundle_expire_time.CopyFrom(_timestamp(bundle_expires_at))
    return message


def bundle_struct(bundle: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    """The bundle as a Struct, or None when there is none yet."""
    return None if bundle is None else json_format.ParseDict(dict(bundle), struct_pb2.Struct())


def exports(bundle: Mapping[str, Any] | None) -> list[gateway_pb2.ServiceExport]:
    """One entry per service of a completed export's bundle."""
    if bundle is None:
        return []
    return [
        gateway_pb2.ServiceExport(service=name, data=json_format.ParseDict(records, struct_pb2.Struct()))
        for name, records in sorted(bundle["sections"].items())
    ]


def _outcome(outcome: ServiceOutcome) -> gateway_pb2.ServiceOutcome:
    return gateway_pb2.ServiceOutcome(
        service=outcome.service,
        status=_part_status(outcome),
        record_count=outcome.exported or outcome.erased,
        error=outcome.error,
        records_found=outcome.found,
        records_retained=outcome.retained,
        retained_reason=outcome.retained_reason,
        attempts=outcome.attempts,
    )


def _part_status(outcome: ServiceOutcome) -> gateway_pb2.PrivacyRequestStatus.ValueType:
    if outcome.status is PartStatus.DONE:
        return gateway_pb2.PRIVACY_REQUEST_STATUS_COMPLETED
    if outcome.status is PartStatus.FAILED:
        return gateway_pb2.PRIVACY_REQUEST_STATUS_FAILED
    # A part tried at least once and still pending is running (waiting out a back-off).
    return (
        gateway_pb2.PRIVACY_REQUEST_STATUS_IN_PROGRESS
        if outcome.attempts
        else gateway_pb2.PRIVACY_REQUEST_STATUS_PENDING
    )


def _timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _key(value: str) -> str:
    key = value.strip()
    if len(key) > MAX_REQUEST_ID or not key.isprintable():
        raise InvalidArgument(
            "request_id is not valid",
            violations=[FieldViolation("request_id", f"at most {MAX_REQUEST_ID} printable characters")],
        )
    return key
