"""The only place Q2Q's domain events become envelopes: `q2q.scores.computed` for the outbox."""

from __future__ import annotations

from services.kit.messaging.events import Envelope, new_event
from services.q2q import wire
from services.q2q.domain.events import ScoresComputed
from teei.q2q.v1 import events_pb2

SOURCE = "teei/q2q"


def envelope(event: ScoresComputed, *, causation: Envelope | None = None) -> Envelope:
    """The envelope announcing `event`, caused by the event being handled, if any."""
    return new_event(
        scores_computed(event), source=SOURCE, tenant=event.company_id, subject=event.subject, causation=causation
    )


def scores_computed(event: ScoresComputed) -> events_pb2.ScoresComputed:
    """The `q2q.scores.computed` payload."""
    return events_pb2.ScoresComputed(
        profile_id=event.profile_id,
        source_text_id=event.source.source_id if event.source else "",
        source_text_type=wire.SOURCE_TO_PROTO[event.source.source_type] if event.source else wire.NO_SOURCE,
        content_hash=event.content_hash,
        labels=wire.labels(event.labels),
        scores=[wire.dimension_score(value) for value in event.scores],
        method=wire.METHOD_TO_PROTO[event.method],
        model_version=event.model_version,
        compute_time=wire.timestamp(event.computed_at),
    )
