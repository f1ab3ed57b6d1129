"""Protobuf ⇄ domain translation of the profile service (the one place both sides meet)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2

from services.kit.messaging import events
from services.profile.domain.events import MilestoneReached, ProfileEvent, ProfilesMerged
from services.profile.domain.journey import CefrLevel, EnrolmentStatus, MilestoneKind, Programme
from services.profile.domain.model import PersonRole, Profile, Provider
from teei.common.v1 import types_pb2
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2, profile_pb2

SOURCE = "teei/profile"

ROLE_FROM_PROTO = {
    types_pb2.PERSON_ROLE_UNSPECIFIED: PersonRole.PARTICIPANT,
    types_pb2.PERSON_ROLE_PARTICIPANT: PersonRole.PARTICIPANT,
    types_pb2.PERSON_ROLE_VOLUNTEER: PersonRole.VOLUNTEER,
}
ROLE_TO_PROTO = {
    PersonRole.PARTICIPANT: types_pb2.PERSON_ROLE_PARTICIPANT,
    PersonRole.VOLUNTEER: types_pb2.PERSON_ROLE_VOLUNTEER,
}
PROVIDER_FROM_PROTO = {
    types_pb2.IDENTITY_PROVIDER_KINTELL: Provider.KINTELL,
    types_pb2.IDENTITY_PROVIDER_BUDDY: Provider.BUDDY,
    types_pb2.IDENTITY_PROVIDER_UPSKILLING: Provider.UPSKILLING,
    types_pb2.IDENTITY_PROVIDER_DISCORD: Provider.DISCORD,
}
PROVIDER_TO_PROTO = {v: k for k, v in PROVIDER_FROM_PROTO.items()}
PROGRAMME_FROM_PROTO = {
    types_pb2.PROGRAMME_TYPE_BUDDY: Programme.BUDDY,
    types_pb2.PROGRAMME_TYPE_LANGUAGE: Programme.LANGUAGE,
    types_pb2.PROGRAMME_TYPE_MENTORSHIP: Programme.MENTORSHIP,
    types_pb2.PROGRAMME_TYPE_UPSKILLING: Programme.UPSKILLING,
}
PROGRAMME_TO_PROTO = {v: k for k, v in PROGRAMME_FROM_PROTO.items()}
STATUS_FROM_PROTO = {
    profile_pb2.ENROLMENT_STATUS_ACTIVE: EnrolmentStatus.ACTIVE,
    profile_pb2.ENROLMENT_STATUS_COMPLETED: EnrolmentStatus.COMPLETED,
    profile_pb2.ENROLMENT_STATUS_DROPPED: EnrolmentStatus.DROPPED,
}
STATUS_TO_PROTO = {v: k for k, v in STATUS_FROM_PROTO.items()}
MILESTONE_TO_PROTO = {kind: profile_pb2.MilestoneKind.Value(f"MILESTONE_KIND_{kind.name}") for kind in MilestoneKind}
CEFR_FROM_PROTO = {types_pb2.CefrLevel.Value(f"CEFR_LEVEL_{level.name}"): level for level in CefrLevel}


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


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


def envelope_for(
    event: ProfileEvent, *, company_id: str, causation: envelope_pb2.Envelope | None
) -> envelope_pb2.Envelope:
    """The CloudEvents envelope of a domain event, caused by `causation` when an event triggered it."""
    payload: events_pb2.MilestoneReached | events_pb2.ProfilesMerged
    if isinstance(event, MilestoneReached):
        milestone = event.milestone
        payload = events_pb2.MilestoneReached(
            profile_id=event.profile_id,
            kind=MILESTONE_TO_PROTO[milestone.kind],
            reach_time=timestamp(milestone.reached_at),
            detail=milestone.detail,
        )
    else:
        payload = _merged(event)
    return events.new_event(payload, source=SOURCE, tenant=company_id, subject=event.profile_id, causation=causation)


def _merged(event: ProfilesMerged) -> events_pb2.ProfilesMerged:
    return events_pb2.ProfilesMerged(
        profile_id=event.profile_id,
        duplicate_profile_id=event.duplicate_profile_id,
        reason=event.reason,
        actor=event.actor,
    )
