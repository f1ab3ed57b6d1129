"""Domain events as event envelopes: the one place the profile service builds what it publishes."""

from __future__ import annotations

from services.kit.messaging import events
from services.profile.domain.events import MilestoneReached, ProfileEvent, ProfilesMerged
from services.profile.wire import MILESTONE_TO_PROTO, timestamp
from teei.events.v1 import envelope_pb2
from teei.profile.v1 import events_pb2

SOURCE = "teei/profile"


def envelope_for(
    event: ProfileEvent, *, company_id: str, causation: envelope_pb2.Envelope | None
) -> envelope_pb2.Envelope:
    """The CloudEvents envelope of a domain event, caused by `causation` when an event triggered it."""
    payload = _milestone(event) if isinstance(event, MilestoneReached) else _merged(event)
    return events.new_event(payload, source=SOURCE, tenant=company_id, subject=event.profile_id, causation=causation)


def _milestone(event: MilestoneReached) -> events_pb2.MilestoneReached:
    milestone = event.milestone
    return events_pb2.MilestoneReached(
        profile_id=event.profile_id,
        kind=MILESTONE_TO_PROTO[milestone.kind],
        reach_time=timestamp(milestone.reached_at),
        detail=milestone.detail,
    )


def _merged(event: ProfilesMerged) -> events_pb2.ProfilesMerged:
    return events_pb2.ProfilesMerged(
        profile_id=event.profile_id,
        duplicate_profile_id=event.duplicate_profile_id,
        reason=event.reason,
        actor=event.actor,
    )
