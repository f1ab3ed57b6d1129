"""Table rows ⇄ domain records of the upskilling connector."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.kit.connectors.model import Channel, Provenance
from services.upskilling.domain.model import (
    Course,
    Credential,
    CredentialType,
    Learner,
    Progress,
    ProgressStatus,
    Provider,
)


def _learner_row(learner: Learner) -> dict[str, str]:
    return {
        "email": learner.email,
        "external_id": learner.external_id,
        "given_name": learner.given_name,
        "family_name": learner.family_name,
        "profile_id": learner.profile_id,
    }


def _source_row(source: Provenance) -> dict[str, object]:
    return {
        "source_channel": source.channel.value,
        "source_batch_id": source.batch_id,
        "source_delivery_id": source.delivery_id,
        "received_at": source.received_at,
    }


def _course_row(course: Course) -> dict[str, str]:
    return {
        "provider": course.provider.value,
        "provider_name": course.provider_name,
        "course_id": course.course_id,
        "course_name": course.course_name,
    }


def progress_row(record: Progress) -> dict[str, object]:
    """The `upskilling_progress` row of a record."""
    return {
        "progress_id": record.progress_id,
        "company_id": record.company_id,
        **_course_row(record.course),
        "course_url": record.course.course_url,
        "learner_key": record.learner_key,
        **_learner_row(record.learner),
        "status": record.status.value,
        "percent": record.percent,
        "started_at": record.started_at,
        "completed_at": record.completed_at,
        "final_score": record.final_score,
        "metadata_json": json.dumps(record.metadata, sort_keys=True),
        **_source_row(record.source),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def credential_row(record: Credential) -> dict[str, object]:
    """The `upskilling_credentials` row of a credential."""
    return {
        "credential_id": record.credential_id,
        "company_id": record.company_id,
        "credential_key": record.credential_key,
        "external_credential_id": record.external_credential_id,
        **_course_row(record.course),
        **_learner_row(record.learner),
        "credential_type": record.credential_type.value,
        "issued_at": record.issued_at,
        "expires_at": record.expires_at,
        "url": record.url,
        "verification_code": record.verification_code,
        **_source_row(record.source),
        "created_at": record.created_at,
    }


def _course(row: Mapping[str, Any]) -> Course:
    course_url = row.get("course_url", "")
    return Course(Provider(row["provider"]), row["provider_name"], row["course_id"], row["course_name"], course_url)


def _learner(row: Mapping[str, Any]) -> Learner:
    return Learner(row["email"], row["external_id"], row["given_name"], row["family_name"], row["profile_id"])


def _source(row: Mapping[str, Any]) -> Provenance:
    return Provenance(
        Channel(row["source_channel"]), row["received_at"], row["source_batch_id"], row["source_delivery_id"]
    )


def to_progress(row: Mapping[str, Any]) -> Progress:
    """The record an `upskilling_progress` row holds."""
    return Progress(
        progress_id=row["progress_id"],
        company_id=row["company_id"],
        course=_course(row),
        learner=_learner(row),
        learner_key=row["learner_key"],
        status=ProgressStatus(row["status"]),
        percent=row["percent"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        final_score=row["final_score"],
        metadata=json.loads(row["metadata_json"]),
        source=_source(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_credential(row: Mapping[str, Any]) -> Credential:
    """The credential an `upskilling_credentials` row holds."""
    return Credential(
        credential_id=row["credential_id"],
        company_id=row["company_id"],
        credential_key=row["credential_key"],
        external_credential_id=row["external_credential_id"],
        course=_course(row),
        learner=_learner(row),
        credential_type=CredentialType(row["credential_type"]),
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        url=row["url"],
        verification_code=row["verification_code"],
        source=_source(row),
        created_at=row["created_at"],
    )
