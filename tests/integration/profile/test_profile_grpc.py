"""The profile slice over real gRPC: behaviour, errors with google.rpc.Status details, tenancy."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.kit.grpc.server import GrpcServer
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc
from tests.integration.profile.support import ACME, GLOBEX, create_request, details, error_of


async def test_create_then_get_returns_the_stored_profile(profiles: profile_pb2_grpc.ProfileServiceAsyncStub) -> None:
    request = create_request(
        "  Ada@Example.ORG ", given_name="Ada", family_name="L", role=types_pb2.PERSON_ROLE_VOLUNTEER
    )
    created = (await profiles.CreateProfile(request, metadata=ACME)).profile
    assert created.email == "ada@example.org"
    assert created.company_id == "acme"
    assert created.role == types_pb2.PERSON_ROLE_VOLUNTEER
    assert created.create_time.seconds > 0
    fetched = (
        await profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=created.profile_id), metadata=ACME)
    ).profile
    assert fetched == created


async def test_unknown_profile_is_not_found_with_error_info(profiles: profile_pb2_grpc.ProfileServiceAsyncStub) -> None:
    missing = "7d7d6a5e-54c3-4a5b-9d7e-2a1f6c1b9e00"
    error = await error_of(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=missing), metadata=ACME))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    info, _ = details(error)
    assert info.reason == "PROFILE_NOT_FOUND"
    assert info.domain == "profile.teei"
    assert info.metadata["profile_id"] == missing


async def test_malformed_id_is_invalid_argument_naming_the_field(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    error = await error_of(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id="../etc"), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(error)[1] == ["profile_id"]


@pytest.mark.parametrize(
    ("email", "fields", "bad_field"),
    [
        ("", {}, "email"),
        ("not-an-email", {}, "email"),
        ("a" * 250 + "@x.com", {}, "email"),
        ("ok@example.org", {"given_name": "x" * 201}, "given_name"),
    ],
)
async def test_invalid_profiles_are_rejected_and_nothing_is_stored(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, email: str, fields: dict[str, object], bad_field: str
) -> None:
    error = await error_of(profiles.CreateProfile(create_request(email, **fields), metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field in details(error)[1]
    if email == "ok@example.org":
        created = await profiles.CreateProfile(create_request(email), metadata=ACME)
        assert created.profile.email == email


async def test_duplicate_email_in_a_company_is_already_exists(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    first = (await profiles.CreateProfile(create_request("dup@example.org"), metadata=ACME)).profile
    error = await error_of(profiles.CreateProfile(create_request("DUP@example.org "), metadata=ACME))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert details(error)[0].metadata["profile_id"] == first.profile_id
    other = (await profiles.CreateProfile(create_request("dup@example.org"), metadata=GLOBEX)).profile
    assert other.profile_id != first.profile_id


async def test_another_tenant_cannot_read_a_profile(profiles: profile_pb2_grpc.ProfileServiceAsyncStub) -> None:
    created = (await profiles.CreateProfile(create_request("private@example.org"), metadata=ACME)).profile
    error = await error_of(
        profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id=created.profile_id), metadata=GLOBEX)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("metadata", [(), (("x-tenant-id", "acme"),)])
async def test_calls_without_a_valid_tenant_are_refused(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub, metadata: tuple[tuple[str, str], ...]
) -> None:
    error = await error_of(profiles.CreateProfile(create_request("who@example.org"), metadata=metadata))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    listed = await error_of(profiles.GetProfile(profile_pb2.GetProfileRequest(profile_id="x"), metadata=metadata))
    assert listed.code() == error.code()


async def test_list_profiles_of_an_empty_company_is_an_empty_page(
    profiles: profile_pb2_grpc.ProfileServiceAsyncStub,
) -> None:
    reply = await profiles.ListProfiles(profile_pb2.ListProfilesRequest(), metadata=ACME)
    assert list(reply.profiles) == []
    assert reply.next_page_token == ""


async def test_oversized_request_is_refused(profiles: profile_pb2_grpc.ProfileServiceAsyncStub) -> None:
    error = await error_of(
        profiles.CreateProfile(create_request("big@example.org", given_name="x" * (5 * 1024 * 1024)), metadata=ACME)
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_health_and_reflection(profile_service: tuple[GrpcServer, grpc.aio.Channel]) -> None:
    _, channel = profile_service
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service="teei.profile.v1.ProfileService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = [s.name async for r in responses for s in r.list_services_response.service]
    assert "teei.profile.v1.ProfileService" in names
    assert "grpc.health.v1.Health" in names


async def test_bytes_that_are_not_the_request_message_are_invalid_argument(
    profile_service: tuple[GrpcServer, grpc.aio.Channel],
) -> None:
    _, channel = profile_service
    raw_call = channel.unary_unary(
        "/teei.profile.v1.ProfileService/CreateProfile",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    error = await error_of(raw_call(b"\x0a\xff\xff\xff", metadata=ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(error)[1] == ["body"]
