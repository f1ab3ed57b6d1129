"""ProfileService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import grpc

from services.kit.security.tenancy import current_tenant
from services.profile import handlers
from services.profile.domain import commands
from services.profile.domain.model import PersonRole
from services.profile.repository import ProfileUnitOfWork
from services.profile.wire import (
    PROGRAMME_FROM_PROTO,
    PROVIDER_FROM_PROTO,
    ROLE_FROM_PROTO,
    STATUS_FROM_PROTO,
    to_proto,
)
from teei.profile.v1 import profile_pb2, profile_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def _actor() -> str:
    # Until authentication lands the caller is known only by its company.
    return f"company:{current_tenant()}"


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    """Serves the profile RPCs."""

    def __init__(self, *, uow: ProfileUnitOfWork) -> None:
        self._uow = uow

    async def CreateProfile(
        self, request: profile_pb2.CreateProfileRequest, context: Context
    ) -> profile_pb2.CreateProfileResponse:
        given = request.profile
        command = commands.CreateProfile(
            company_id=current_tenant(),
            email=given.email,
            given_name=given.given_name,
            family_name=given.family_name,
            role=ROLE_FROM_PROTO.get(given.role, PersonRole.PARTICIPANT),
        )
        profile = await asyncio.to_thread(handlers.create_profile, command, uow=self._uow)
        return profile_pb2.CreateProfileResponse(profile=to_proto(profile))

    async def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: Context
    ) -> profile_pb2.GetProfileResponse:
        query = commands.GetProfile(company_id=current_tenant(), profile_id=request.profile_id)
        profile = await asyncio.to_thread(handlers.get_profile, query, uow=self._uow)
        return profile_pb2.GetProfileResponse(profile=to_proto(profile))

    async def ListProfiles(
        self, request: profile_pb2.ListProfilesRequest, context: Context
    ) -> profile_pb2.ListProfilesResponse:
        query = commands.ListProfiles(current_tenant(), request.email, request.page_size, request.page_token)
        page, token = await asyncio.to_thread(handlers.list_profiles, query, uow=self._uow)
        return profile_pb2.ListProfilesResponse(profiles=[to_proto(p) for p in page], next_page_token=token)

    async def LinkExternalId(
        self, request: profile_pb2.LinkExternalIdRequest, context: Context
    ) -> profile_pb2.LinkExternalIdResponse:
        given = request.external_id
        provider = PROVIDER_FROM_PROTO.get(given.provider)
        command = commands.LinkExternalId(current_tenant(), request.profile_id, provider, given.external_id)
        profile, created = await asyncio.to_thread(handlers.link_external_id, command, uow=self._uow)
        return profile_pb2.LinkExternalIdResponse(profile=to_proto(profile), created=created)

    async def MergeProfiles(
        self, request: profile_pb2.MergeProfilesRequest, context: Context
    ) -> profile_pb2.MergeProfilesResponse:
        command = commands.MergeProfiles(
            current_tenant(), request.profile_id, request.duplicate_profile_id, request.reason, _actor()
        )
        profile = await asyncio.to_thread(handlers.merge_profiles, command, uow=self._uow)
        return profile_pb2.MergeProfilesResponse(profile=to_proto(profile))

    async def UpsertEnrolment(
        self, request: profile_pb2.UpsertEnrolmentRequest, context: Context
    ) -> profile_pb2.UpsertEnrolmentResponse:
        given = request.enrolment
        command = commands.UpsertEnrolment(
            company_id=current_tenant(),
            profile_id=request.profile_id,
            programme=PROGRAMME_FROM_PROTO.get(given.programme),
            status=STATUS_FROM_PROTO.get(given.status),
            start_at=given.start_time.ToDatetime(tzinfo=UTC) if given.HasField("start_time") else None,
            end_at=given.end_time.ToDatetime(tzinfo=UTC) if given.HasField("end_time") else None,
        )
        profile = await asyncio.to_thread(handlers.upsert_enrolment, command, uow=self._uow)
        return profile_pb2.UpsertEnrolmentResponse(profile=to_proto(profile))

    async def SetJourneyFlag(
        self, request: profile_pb2.SetJourneyFlagRequest, context: Context
    ) -> profile_pb2.SetJourneyFlagResponse:
        command = commands.SetJourneyFlag(current_tenant(), request.profile_id, request.flag, request.value)
        profile = await asyncio.to_thread(handlers.set_journey_flag, command, uow=self._uow)
        return profile_pb2.SetJourneyFlagResponse(profile=to_proto(profile))

    async def IncrementCounter(
        self, request: profile_pb2.IncrementCounterRequest, context: Context
    ) -> profile_pb2.IncrementCounterResponse:
        command = commands.IncrementCounter(
            current_tenant(), request.profile_id, request.counter, request.delta, request.request_id
        )
        profile = await asyncio.to_thread(handlers.increment_counter, command, uow=self._uow)
        return profile_pb2.IncrementCounterResponse(profile=to_proto(profile))
