"""What happened to learning records, as plain values; the outbox adapter turns them into typed events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.upskilling.domain.model import Credential, Progress, ProgressStatus


@dataclass(frozen=True)
class ProgressUpdated:
    """Status, percent, start or completion of a learner's course changed (or the record is new)."""

    progress: Progress
    previous_status: ProgressStatus | None
    reported_at: datetime


@dataclass(frozen=True)
class CourseCompleted:
    """A learner's course moved into completed; raised once per transition."""

    progress: Progress


@dataclass(frozen=True)
class CredentialIssued:
    """A credential not seen before was stored."""

    credential: Credential


DomainEvent = ProgressUpdated | CourseCompleted | CredentialIssued
