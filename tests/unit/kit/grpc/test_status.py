"""Domain errors map to gRPC codes through the class hierarchy, with google.rpc details."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2

from services.kit import errors
from services.kit.grpc import status
from services.profile.domain.model import InvalidProfile, ProfileEmailTaken, ProfileNotFound


def test_codes_follow_the_class_hierarchy() -> None:
    assert status.code_for(ProfileNotFound("x")) == grpc.StatusCode.NOT_FOUND
    assert status.code_for(ProfileEmailTaken("x")) == grpc.StatusCode.ALREADY_EXISTS
    assert status.code_for(InvalidProfile("x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status.code_for(errors.Conflict("x")) == grpc.StatusCode.ABORTED
    assert status.code_for(errors.DomainError("x")) == grpc.StatusCode.UNKNOWN


def test_status_carries_error_info_and_field_violations() -> None:
    exc = InvalidProfile("bad", metadata={"k": "v"}, violations=[errors.FieldViolation("email", "is required")])
    rpc = status.to_rpc_status(exc, domain="profile.teei")
    assert rpc.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert rpc.message == "bad"
    info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert rpc.details[0].Unpack(info)
    assert rpc.details[1].Unpack(bad)
    assert (info.reason, info.domain, dict(info.metadata)) == ("INVALID_PROFILE", "profile.teei", {"k": "v"})
    assert [(v.field, v.description) for v in bad.field_violations] == [("email", "is required")]


def test_internal_status_leaks_nothing_but_the_request_id() -> None:
    rpc = status.internal_status("req-1")
    assert rpc.code == grpc.StatusCode.INTERNAL.value[0]
    assert "req-1" in rpc.message
