"""ProfileService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from services.kit.tenancy import current_tenant
from services.profile import handlers
from services.profile.domain.commands import CreateProfile, GetProfile
from services.profile.domain.model import PersonRole, Profile
from services.profile.repository import ProfileUnitOfWork
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

_ROLE_FROM_PROTO = {
    types_pb2.PERSON_ROLE_UNSPECIFIED: PersonRole.PARTICIPANT,
    types_pb2.PERSON_ROLE_PARTICIPANT: PersonRole.PARTICIPANT,
    types_pb2.PERSON_ROLE_VOLUNTEER: PersonRole.VOLUNTEER,
}
_ROLE_TO_PROTO = {
    PersonRole.PARTICIPANT: types_pb2.PERSON_ROLE_PARTICIPANT,
    PersonRole.VOLUNTEER: types_pb2.PERSON_ROLE_VOLUNTEER,
}


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    """Serves the profile RPCs that are built; the rest answer UNIMPLEMENTED (inherited)."""

    def __init__(self, *, uow: ProfileUnitOfWork) -> None:
        self._uow = uow

    async def CreateProfile(
        self, request: profile_pb2.CreateProfileRequest, context: Context
    ) -> profile_pb2.CreateProfileResponse:
        given = request.profile
        command = CreateProfile(
            company_id=current_tenant(),
            email=given.email,
            given_name=given.given_name,
            family_name=given.family_name,
            role=_ROLE_FROM_PROTO.get(given.role, PersonRole.PARTICIPANT),
        )
        profile = await asyncio.to_thread(handlers.create_profile, command, uow=self._uow)
        return profile_pb2.CreateProfileResponse(profile=to_proto(profile))

    async def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: Context
    ) -> profile_pb2.GetProfileResponse:
        query = GetProfile(company_id=current_tenant(), profile_id=request.profile_id)
        profile = await asyncio.to_thread(handlers.get_profile, query, uow=self._uow)
        return profile_pb2.GetProfileResponse(profile=to_proto(profile))


def to_proto(profile: Profile) -> profile_pb2.Profile:
    """The wire form of a profile."""
    return profile_pb2.Profile(
        profile_id=profile.profile_id,
        email=profile.email,
        given_name=profile.given_name,
        family_name=profile.family_name,
        role=_ROLE_TO_PROTO[profile.role],
        company_id=profile.company_id,
        create_time=_timestamp(profile.created_at),
        update_time=_timestamp(profile.updated_at),
    )


def _timestamp(value: Any) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp
