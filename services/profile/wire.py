"""Protobuf ⇄ domain for the profile RPCs: requests become commands, profiles become messages."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from services.profile.domain import commands
from services.profile.domain.journey import CefrLevel, EnrolmentStatus, MilestoneKind, Programme
from services.profile.domain.model import PersonRole, Profile, Provider
from teei.common.v1 import types_pb2
from teei.profile.v1 import profile_pb2

# Maps by name: a domain value without its proto counterpart fails at import, not on a request.
ROLE_FROM_PROTO = {types_pb2.PersonRole.Value(f"PERSON_ROLE_{role.name}"): role for role in PersonRole}
ROLE_TO_PROTO = {role: value for value, role in ROLE_FROM_PROTO.items()}
PROVIDER_FROM_PROTO = {types_pb2.IdentityProvider.Value(f"IDENTITY_PROVIDER_{p.name}"): p for p in Provider}
PROVIDER_TO_PROTO = {provider: value for value, provider in PROVIDER_FROM_PROTO.items()}
PROGRAMME_FROM_PROTO = {types_pb2.ProgrammeType.Value(f"PROGRAMME_TYPE_{p.name}"): p for p in Programme}
PROGRAMME_TO_PROTO = {programme: value for value, programme in PROGRAMME_FROM_PROTO.items()}
STATUS_FROM_PROTO = {profile_pb2.EnrolmentStatus.Value(f"ENROLMENT_STATUS_{s.name}"): s for s in EnrolmentStatus}
STATUS_TO_PROTO = {status: value for value, status in STATUS_FROM_PROTO.items()}
MILESTONE_TO_PROTO = {kind: profile_pb2.MilestoneKind.Value(f"MILESTONE_KIND_{kind.name}") for kind in MilestoneKind}
CEFR_FROM_PROTO = {types_pb2.CefrLevel.Value(f"CEFR_LEVEL_{level.name}"): level for level in CefrLevel}


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def create_profile(request: profile_pb2.CreateProfileRequest, company_id: str) -> commands.CreateProfile:
    """CreateProfile as a command; an unset role is a participant."""
    given = request.profile
    role = ROLE_FROM_PROTO.get(given.role, PersonRole.PARTICIPANT)
    return commands.CreateProfile(company_id, given.email, given.given_name, given.family_name, role)


def get_profile(request: profile_pb2.GetProfileRequest, company_id: str) -> commands.GetProfile:
    """GetProfile as a query."""
    return commands.GetProfile(company_id, request.profile_id)


def list_profiles(request: profile_pb2.ListProfilesRequest, company_id: str) -> commands.ListProfiles:
    """ListProfiles as a query."""
    return commands.ListProfiles(company_id, request.email, request.page_size, request.page_token)


def link_external_id(request: profile_pb2.LinkExternalIdRequest, company_id: str) -> commands.LinkExternalId:
    """LinkExternalId as a command; an unknown provider is left for the domain to refuse."""
    given = request.external_id
    provider = PROVIDER_FROM_PROTO.get(given.provider)
    return commands.LinkExternalId(company_id, request.profile_id, provider, given.external_id)


def merge_profiles(request: profile_pb2.MergeProfilesRequest, company_id: str, actor: str) -> commands.MergeProfiles:
    """MergeProfiles as a command by `actor`, the authenticated caller."""
    return commands.MergeProfiles(company_id, request.profile_id, request.duplicate_profile_id, request.reason, actor)


def upsert_enrolment(request: profile_pb2.UpsertEnrolmentRequest, company_id: str) -> commands.UpsertEnrolment:
    """UpsertEnrolment as a command; unset times stay None for the domain to default."""
    given = request.enrolment
    return commands.UpsertEnrolment(
        company_id=company_id,
        profile_id=request.profile_id,
        programme=PROGRAMME_FROM_PROTO.get(given.programme),
        status=STATUS_FROM_PROTO.get(given.status),
        start_at=given.start_time.ToDatetime(tzinfo=UTC) if given.HasField("start_time") else None,
        end_at=given.end_time.ToDatetime(tzinfo=UTC) if given.HasField("end_time") else None,
    )


def set_journey_flag(request: profile_pb2.SetJourneyFlagRequest, company_id: str) -> commands.SetJourneyFlag:
    """SetJourneyFlag as a command."""
    return commands.SetJourneyFlag(company_id, request.profile_id, request.flag, request.value)


def increment_counter(request: profile_pb2.IncrementCounterRequest, company_id: str) -> commands.IncrementCounter:
    """IncrementCounter as a command."""
    return commands.IncrementCounter(company_id, request.profile_id, request.counter, request.delta, request.request_id)


def to_proto(profile: Profile) -> profile_pb2.Profile:
    """The wire form of a profile with its identities and journey."""
    journey = profile.journey
    return profile_pb2.Profile(
        profile_id=profile.profile_id,
        email=profile.email,
        given_name=profile.given_name,
        family_name=profile.family_name,
        role=ROLE_TO_PROTO[profile.role],
        company_id=profile.company_id,
        create_time=timestamp(profile.created_at),
        update_time=timestamp(profile.updated_at),
        external_ids=[
            profile_pb2.ExternalId(provider=PROVIDER_TO_PROTO[e.provider], external_id=e.external_id)
            for e in sorted(profile.external_ids)
        ],
        enrolments=[
            profile_pb2.Enrolment(
                programme=PROGRAMME_TO_PROTO[e.programme],
                status=STATUS_TO_PROTO[e.status],
                start_time=timestamp(e.start_at),
                end_time=timestamp(e.end_at) if e.end_at else None,
            )
            for e in sorted(journey.enrolments.values(), key=lambda e: e.programme)
        ],
        flags=journey.flags,
        counters=journey.counters,
        milestones=[
            profile_pb2.Milestone(kind=MILESTONE_TO_PROTO[m.kind], reach_time=timestamp(m.reached_at), detail=m.detail)
            for m in sorted(journey.milestones, key=lambda m: (m.reached_at, m.kind, m.key))
        ],
    )
