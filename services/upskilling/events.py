"""The only place the upskilling connector's domain events become `upskilling.*` event envelopes."""

from __future__ import annotations

from google.protobuf import message

from services.kit.connectors.wire import provenance, timestamp
from services.kit.messaging import events
from services.upskilling import wire
from services.upskilling.domain.events import CourseCompleted, CredentialIssued, DomainEvent, ProgressUpdated
from teei.upskilling.v1 import events_pb2, upskilling_pb2

SOURCE = "teei/upskilling"


def envelope(event: DomainEvent, *, company_id: str) -> events.Envelope:
    """The envelope of one event; its subject is the record's platform id."""
    payload, subject = _payload(event)
    return events.new_event(payload, source=SOURCE, tenant=company_id, subject=subject)


def _payload(event: DomainEvent) -> tuple[message.Message, str]:
    if isinstance(event, ProgressUpdated):
        return _progress_updated(event), event.progress.progress_id
    if isinstance(event, CourseCompleted):
        return _course_completed(event), event.progress.progress_id
    return _credential_issued(event), event.credential.credential_id


def _progress_updated(event: ProgressUpdated) -> events_pb2.ProgressUpdated:
    record = event.progress
    previous = (
        wire.STATUSES[event.previous_status] if event.previous_status else upskilling_pb2.PROGRESS_STATUS_UNSPECIFIED
    )
    return events_pb2.ProgressUpdated(
        progress_id=record.progress_id,
        **wire.course_fields(record.learner, record.course),
        status=wire.STATUSES[record.status],
        previous_status=previous,
        percent_complete=record.percent,
        start_time=timestamp(record.started_at),
        complete_time=timestamp(record.completed_at),
        update_time=timestamp(event.reported_at),
        provenance=provenance(record.source),
    )


def _course_completed(event: CourseCompleted) -> events_pb2.CourseCompleted:
    record = event.progress
    return events_pb2.CourseCompleted(
        progress_id=record.progress_id,
        **wire.course_fields(record.learner, record.course),
        start_time=timestamp(record.started_at),
        complete_time=timestamp(record.completed_at),
        final_score=record.final_score,
        provenance=provenance(record.source),
    )


def _credential_issued(event: CredentialIssued) -> events_pb2.CredentialIssued:
    record = event.credential
    return events_pb2.CredentialIssued(
        credential_id=record.credential_id,
        external_credential_id=record.external_credential_id,
        **wire.course_fields(record.learner, record.course),
        credential_type=wire.CREDENTIAL_TYPES[record.credential_type],
        issue_time=timestamp(record.issued_at),
        expire_time=timestamp(record.expires_at),
        url=record.url,
        provenance=provenance(record.source),
    )
