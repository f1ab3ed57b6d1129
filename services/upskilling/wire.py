"""Domain ⇄ protobuf for the upskilling connector's RPC messages (events.py reuses the record forms)."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf import json_format, struct_pb2

from services.kit.connectors.wire import provenance, timestamp
from services.upskilling.domain.model import (
    Course,
    Credential,
    CredentialType,
    Learner,
    Progress,
    ProgressStatus,
    Provider,
)
from teei.common.v1 import types_pb2
from teei.upskilling.v1 import upskilling_pb2

PROVIDERS = {
    Provider.ECORNELL: upskilling_pb2.PROVIDER_ECORNELL,
    Provider.ITSLEARNING: upskilling_pb2.PROVIDER_ITSLEARNING,
    Provider.GENERIC: upskilling_pb2.PROVIDER_GENERIC,
}
STATUSES = {
    ProgressStatus.ENROLLED: upskilling_pb2.PROGRESS_STATUS_ENROLLED,
    ProgressStatus.IN_PROGRESS: upskilling_pb2.PROGRESS_STATUS_IN_PROGRESS,
    ProgressStatus.COMPLETED: upskilling_pb2.PROGRESS_STATUS_COMPLETED,
    ProgressStatus.DROPPED: upskilling_pb2.PROGRESS_STATUS_DROPPED,
}
CREDENTIAL_TYPES = {
    CredentialType.CERTIFICATE: upskilling_pb2.CREDENTIAL_TYPE_CERTIFICATE,
    CredentialType.BADGE: upskilling_pb2.CREDENTIAL_TYPE_BADGE,
    CredentialType.DIPLOMA: upskilling_pb2.CREDENTIAL_TYPE_DIPLOMA,
    CredentialType.TRANSCRIPT: upskilling_pb2.CREDENTIAL_TYPE_TRANSCRIPT,
}
PROVIDERS_FROM_PROTO = {value: key for key, value in PROVIDERS.items()}
STATUSES_FROM_PROTO = {value: key for key, value in STATUSES.items()}
CREDENTIAL_TYPES_FROM_PROTO = {value: key for key, value in CREDENTIAL_TYPES.items()}


def learner(value: Learner) -> types_pb2.PersonRef:
    """The learner as the contracts carry a person (e-mail and provider id let profile resolve them)."""
    return types_pb2.PersonRef(
        email=value.email,
        external_id=value.external_id,
        profile_id=value.profile_id,
        given_name=value.given_name,
        family_name=value.family_name,
    )


class CourseFields(TypedDict):
    """The learner and course fields every upskilling message carries."""

    learner: types_pb2.PersonRef
    provider: upskilling_pb2.Provider.ValueType
    provider_name: str
    course_id: str
    course_name: str


def course_fields(person: Learner, course: Course) -> CourseFields:
    """The learner and course of a record, as every upskilling message carries them."""
    return CourseFields(
        learner=learner(person),
        provider=PROVIDERS[course.provider],
        provider_name=course.provider_name,
        course_id=course.course_id,
        course_name=course.course_name,
    )


def progress(record: Progress) -> upskilling_pb2.CourseProgress:
    """A progress record as the API returns it."""
    return upskilling_pb2.CourseProgress(
        progress_id=record.progress_id,
        **course_fields(record.learner, record.course),
        course_url=record.course.course_url,
        status=STATUSES[record.status],
        percent_complete=record.percent,
        start_time=timestamp(record.started_at),
        complete_time=timestamp(record.completed_at),
        final_score=record.final_score,
        metadata=_struct(record.metadata),
        provenance=provenance(record.source),
        create_time=timestamp(record.created_at),
        update_time=timestamp(record.updated_at),
    )


def credential(record: Credential) -> upskilling_pb2.Credential:
    """A credential as the API returns it."""
    return upskilling_pb2.Credential(
        credential_id=record.credential_id,
        external_credential_id=record.external_credential_id,
        **course_fields(record.learner, record.course),
        credential_type=CREDENTIAL_TYPES[record.credential_type],
        issue_time=timestamp(record.issued_at),
        expire_time=timestamp(record.expires_at),
        url=record.url,
        verification_code=record.verification_code,
        provenance=provenance(record.source),
        create_time=timestamp(record.created_at),
    )


def _struct(values: dict[str, object]) -> struct_pb2.Struct | None:
    return json_format.ParseDict(values, struct_pb2.Struct()) if values else None
