"""ProfileService servicer: proto ⇄ command through wire, the handler or query does the rest."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, TypeVar

import grpc

from services.kit.grpc.subjects import SubjectData, SubjectDataRpcs
from services.kit.security.tenancy import current_principal, current_tenant
from services.profile import handlers, queries, wire
from services.profile.domain.model import Profile
from services.profile.repository import ProfileUnitOfWork
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
CommandT = TypeVar("CommandT")
CommandT_contra = TypeVar("CommandT_contra", contravariant=True)


class _ProfileCall(Protocol[CommandT_contra]):
    """A handler or query whose answer is one profile (most of the RPCs answer so)."""

    def __call__(self, command: CommandT_contra, /, *, uow: ProfileUnitOfWork) -> Profile: ...


def _actor() -> str:
    """The caller as its validated token names it; no header can change it."""
    return current_principal().subject


class ProfileServicer(
    SubjectDataRpcs[profile_pb2.ExportSubjectDataResponse, profile_pb2.EraseSubjectDataResponse],
    profile_pb2_grpc.ProfileServiceServicer,
):
    """Serves the profile RPCs."""

    export_response = profile_pb2.ExportSubjectDataResponse
    erase_response = profile_pb2.EraseSubjectDataResponse

    def __init__(self, *, uow: ProfileUnitOfWork, subjects: SubjectData) -> None:
        self._uow = uow
        self.subjects = subjects

    async def CreateProfile(
        self, request: profile_pb2.CreateProfileRequest, context: Context
    ) -> profile_pb2.CreateProfileResponse:
        command = wire.create_profile(request, current_tenant())
        return profile_pb2.CreateProfileResponse(profile=await self._profile(handlers.create_profile, command))

    async def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: Context
    ) -> profile_pb2.GetProfileResponse:
        query = wire.get_profile(request, current_tenant())
        return profile_pb2.GetProfileResponse(profile=await self._profile(queries.get_profile, query))

    async def ListProfiles(
        self, request: profile_pb2.ListProfilesRequest, context: Context
    ) -> profile_pb2.ListProfilesResponse:
        query = wire.list_profiles(request, current_tenant())
        page, token = await asyncio.to_thread(queries.list_profiles, query, uow=self._uow)
        return profile_pb2.ListProfilesResponse(profiles=[wire.to_proto(p) for p in page], next_page_token=token)

    async def LinkExternalId(
        self, request: profile_pb2.LinkExternalIdRequest, context: Context
    ) -> profile_pb2.LinkExternalIdResponse:
        command = wire.link_external_id(request, current_tenant())
        profile, created = await asyncio.to_thread(handlers.link_external_id, command, uow=self._uow)
        return profile_pb2.LinkExternalIdResponse(profile=wire.to_proto(profile), created=created)

    async def MergeProfiles(
        self, request: profile_pb2.MergeProfilesRequest, context: Context
    ) -> profile_pb2.MergeProfilesResponse:
        command = wire.merge_profiles(request, current_tenant(), _actor())
        return profile_pb2.MergeProfilesResponse(profile=await self._profile(handlers.merge_profiles, command))

    async def UpsertEnrolment(
        self, request: profile_pb2.UpsertEnrolmentRequest, context: Context
    ) -> profile_pb2.UpsertEnrolmentResponse:
        command = wire.upsert_enrolment(request, current_tenant())
        return profile_pb2.UpsertEnrolmentResponse(profile=await self._profile(handlers.upsert_enrolment, command))

    async def SetJourneyFlag(
        self, request: profile_pb2.SetJourneyFlagRequest, context: Context
    ) -> profile_pb2.SetJourneyFlagResponse:
        command = wire.set_journey_flag(request, current_tenant())
        return profile_pb2.SetJourneyFlagResponse(profile=await self._profile(handlers.set_journey_flag, command))

    async def IncrementCounter(
        self, request: profile_pb2.IncrementCounterRequest, context: Context
    ) -> profile_pb2.IncrementCounterResponse:
        command = wire.increment_counter(request, current_tenant())
        return profile_pb2.IncrementCounterResponse(profile=await self._profile(handlers.increment_counter, command))

    async def _profile(self, call: _ProfileCall[CommandT], command: CommandT) -> profile_pb2.Profile:
        """The one profile `call` answers, in its wire form; run off the event loop, as it blocks on the database."""
        return wire.to_proto(await asyncio.to_thread(call, command, uow=self._uow))
