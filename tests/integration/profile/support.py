"""Request builders and error readers shared by the profile gRPC tests."""

from __future__ import annotations

from typing import TypeAlias

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.kit.testing import tenant
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

Stub: TypeAlias = "profile_pb2_grpc.ProfileServiceAsyncStub"
Metadata: TypeAlias = tuple[tuple[str, str], ...]
ACME, GLOBEX = tenant("acme"), tenant("globex")
KINTELL = types_pb2.IDENTITY_PROVIDER_KINTELL
MISSING = "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"


async def error_of(call: object) -> grpc.aio.AioRpcError:
    """The error the call fails with (the test fails when it succeeds)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    """The error's ErrorInfo and the fields its BadRequest names, from its google.rpc.Status."""
    status = rpc_status.from_call(error)
    assert status is not None, "error carries google.rpc.Status details"
    info, fields = error_details_pb2.ErrorInfo(), []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return info, fields


def create_request(email: str, **fields: object) -> profile_pb2.CreateProfileRequest:
    """CreateProfile for a person with this e-mail and any other profile fields."""
    return profile_pb2.CreateProfileRequest(profile=profile_pb2.Profile(email=email, **fields))  # type: ignore[arg-type]


async def create(stub: Stub, email: str, metadata: Metadata = ACME) -> profile_pb2.Profile:
    """A new profile with this e-mail."""
    return (await stub.CreateProfile(create_request(email), metadata=metadata)).profile


async def get(stub: Stub, profile_id: str, metadata: Metadata = ACME) -> profile_pb2.Profile:
    """The stored profile."""
    return (await stub.GetProfile(profile_pb2.GetProfileRequest(profile_id=profile_id), metadata=metadata)).profile


def link(profile_id: str, external_id: str, provider: int = KINTELL) -> profile_pb2.LinkExternalIdRequest:
    """LinkExternalId of one identity."""
    given = profile_pb2.ExternalId(provider=provider, external_id=external_id)  # type: ignore[arg-type]
    return profile_pb2.LinkExternalIdRequest(profile_id=profile_id, external_id=given)


def counter(profile_id: str, name: str, delta: int, request_id: str = "") -> profile_pb2.IncrementCounterRequest:
    """IncrementCounter of one counter."""
    return profile_pb2.IncrementCounterRequest(profile_id=profile_id, counter=name, delta=delta, request_id=request_id)


def enrol(profile_id: str, programme: int, status: int, **times: int) -> profile_pb2.UpsertEnrolmentRequest:
    """UpsertEnrolment with the given times (seconds) by field name."""
    enrolment = profile_pb2.Enrolment(programme=programme, status=status)  # type: ignore[arg-type]
    for name, seconds in times.items():
        getattr(enrolment, name).seconds = seconds
    return profile_pb2.UpsertEnrolmentRequest(profile_id=profile_id, enrolment=enrolment)
