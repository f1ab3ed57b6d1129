"""The gateway's domain events as envelopes: a completed erasure becomes `privacy.subject.erased`."""

from __future__ import annotations

from services.gateway.domain.privacy import PrivacyRequest, confirmed_services
from services.kit.messaging import events
from teei.events.v1 import envelope_pb2
from teei.gateway.v1 import events_pb2

SOURCE = "teei/gateway"


def subject_erased(request: PrivacyRequest) -> envelope_pb2.Envelope:
    """The envelope telling consumers to forget a person (by profile id only: no e-mail, no name)."""
    assert request.completed_at is not None
    payload = events_pb2.SubjectErased(
        privacy_request_id=request.request_id,
        profile_id=request.subject.profile_id,
        services=confirmed_services(request),
    )
    payload.erase_time.FromDatetime(request.completed_at)
    return events.new_event(
        payload, source=SOURCE, tenant=request.subject.company_id, subject=request.subject.profile_id
    )
