"""How reports move stored learning records: statuses only move forward, nothing is applied twice.

Status transitions a report may make (anything else is IGNORED, not applied, and the reason is
returned so the caller records it; providers deliver out of order, so a stale report is normal and
is acknowledged rather than refused):
- enrolled    → in_progress | completed | dropped
- in_progress → completed | dropped            (→ enrolled is ignored)
- dropped     → enrolled | in_progress | completed   (a re-enrolment or resumption)
- completed   is final                         (→ enrolled | in_progress | dropped is ignored)
Within the same status a lower percent is ignored as stale. A report that changes nothing stores
nothing and raises no event; one that changes only descriptive fields (course name, score,
metadata) is stored without an event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from services.kit.connectors.model import Provenance
from services.upskilling.domain.events import (
    CourseCompleted,
    CredentialIssued,
    DomainEvent,
    ProgressUpdated,
)
from services.upskilling.domain.model import (
    Credential,
    CredentialReport,
    Progress,
    ProgressReport,
    ProgressStatus,
)

_E, _P, _C, _D = (
    ProgressStatus.ENROLLED,
    ProgressStatus.IN_PROGRESS,
    ProgressStatus.COMPLETED,
    ProgressStatus.DROPPED,
)
_FORWARD: dict[ProgressStatus, frozenset[ProgressStatus]] = {
    _E: frozenset({_E, _P, _C, _D}),
    _P: frozenset({_P, _C, _D}),
    _C: frozenset({_C}),
    _D: frozenset({_D, _E, _P, _C}),
}


R = TypeVar("R", Progress, Credential)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What applying one report did: the record to store (None when nothing changed), its events,
    and why it was ignored (empty when it was not)."""

    store: R | None = None
    events: tuple[DomainEvent, ...] = ()
    ignored: str = ""


def apply_progress(
    existing: Progress | None, report: ProgressReport, *, company_id: str, source: Provenance
) -> Outcome[Progress]:
    """The outcome of a progress report against the stored record (None for a first report)."""
    if existing is None:
        created = _first(report, company_id=company_id, source=source)
        return Outcome(created, _progress_events(None, created, report.reported_at))
    reason = _stale(existing, report)
    if reason:
        return Outcome(ignored=reason)
    updated = _updated(existing, report, source)
    if _same(existing, updated):
        return Outcome()
    return Outcome(updated, _progress_events(existing, updated, report.reported_at))


def _stale(existing: Progress, report: ProgressReport) -> str:
    if report.status not in _FORWARD[existing.status]:
        return f"status {existing.status} does not move back to {report.status}"
    if report.status == existing.status and report.percent is not None and report.percent < existing.percent:
        return f"percent {existing.percent:g} does not move back to {report.percent:g}"
    return ""


def _first(report: ProgressReport, *, company_id: str, source: Provenance) -> Progress:
    status = report.status
    return Progress(
        progress_id=str(uuid.uuid4()),
        company_id=company_id,
        course=report.course,
        learner=report.learner,
        learner_key=report.learner.key,
        status=status,
        percent=_percent(report, 0.0),
        started_at=report.started_at or (report.reported_at if status in (_P, _C) else None),
        completed_at=(report.completed_at or report.reported_at) if status is _C else None,
        final_score=report.final_score,
        metadata=dict(report.metadata or {}),
        source=source,
        created_at=source.received_at,
        updated_at=source.received_at,
    )


def _updated(existing: Progress, report: ProgressReport, source: Provenance) -> Progress:
    status = report.status
    course = replace(
        existing.course,
        course_name=report.course.course_name or existing.course.course_name,
        course_url=report.course.course_url or existing.course.course_url,
    )
    started = report.started_at or existing.started_at or (report.reported_at if status in (_P, _C) else None)
    completed = (report.completed_at or existing.completed_at or report.reported_at) if status is _C else None
    return replace(
        existing,
        course=course,
        learner=existing.learner.merged(report.learner),
        status=status,
        percent=_percent(report, existing.percent),
        started_at=started,
        completed_at=completed,
        final_score=existing.final_score if report.final_score is None else report.final_score,
        metadata=existing.metadata if report.metadata is None else dict(report.metadata),
        source=source,
        updated_at=source.received_at,
    )


def _percent(report: ProgressReport, current: float) -> float:
    if report.percent is not None:
        return report.percent
    return 100.0 if report.status is _C else current


def _same(before: Progress, after: Progress) -> bool:
    return replace(after, source=before.source, updated_at=before.updated_at) == before


def _progress_events(before: Progress | None, after: Progress, reported_at: datetime) -> tuple[DomainEvent, ...]:
    tracked = ("status", "percent", "started_at", "completed_at")
    if before is not None and all(getattr(before, name) == getattr(after, name) for name in tracked):
        return ()
    previous = before.status if before is not None else None
    events: list[DomainEvent] = [ProgressUpdated(after, previous, reported_at)]
    if after.status is _C and previous is not _C:
        events.append(CourseCompleted(after))
    return tuple(events)


def apply_credential(
    existing: Credential | None, report: CredentialReport, *, company_id: str, source: Provenance
) -> Outcome[Credential]:
    """A new credential is stored and announced once; a changed one is updated without a new event."""
    if existing is None:
        credential = Credential(
            credential_id=str(uuid.uuid4()),
            company_id=company_id,
            credential_key=report.key,
            external_credential_id=report.external_credential_id,
            course=report.course,
            learner=report.learner,
            credential_type=report.credential_type,
            issued_at=report.issued_at,
            expires_at=report.expires_at,
            url=report.url,
            verification_code=report.verification_code,
            source=source,
            created_at=source.received_at,
        )
        return Outcome(credential, (CredentialIssued(credential),))
    updated = replace(
        existing,
        course=replace(existing.course, course_name=report.course.course_name or existing.course.course_name),
        learner=existing.learner.merged(report.learner),
        issued_at=report.issued_at,
        expires_at=report.expires_at,
        url=report.url or existing.url,
        verification_code=report.verification_code or existing.verification_code,
    )
    if updated == existing:
        return Outcome()
    return Outcome(replace(updated, source=source))
