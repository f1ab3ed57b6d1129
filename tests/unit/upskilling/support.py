"""Test support: provider payloads as the providers send them, and the outbox as tests read it."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from services.kit.messaging import events
from services.kit.persistence import db


def ecornell(event_type: str, event_id: str = "ec-1", **overrides: Any) -> dict[str, Any]:
    """An eCornell delivery."""
    payload: dict[str, Any] = {
        "event_type": event_type,
        "event_id": event_id,
        "timestamp": "2026-03-01T10:00:00Z",
        "user": {"external_id": "u-42", "email": "Ada@Example.org", "names": {"first": "Ada", "last": "Lovelace"}},
        "course": {"id": "PY101", "name": "Python Basics", "url": "https://ecornell.example/py101"},
    }
    if event_type == "course.started":
        payload["progress"] = {"status": "in_progress", "percent_complete": 35, "started_at": "2026-02-20T09:00:00Z"}
    if event_type == "course.completed":
        payload["progress"] = {
            "status": "completed",
            "percent_complete": 100,
            "started_at": "2026-02-20T09:00:00Z",
            "completed_at": "2026-03-01T09:30:00Z",
        }
    if event_type == "certificate.issued":
        payload["certificate"] = {"id": "CERT-9", "url": "https://ecornell.example/c/9", "issued_at": "2026-03-02"}
    payload.update(overrides)
    return payload


def itslearning(event_type: str, event_id: str = "it-1", **overrides: Any) -> dict[str, Any]:
    """An itslearning delivery."""
    payload: dict[str, Any] = {
        "eventType": event_type,
        "eventId": event_id,
        "timestamp": "2026-03-01T10:00:00+01:00",
        "userId": 7781,
        "userEmail": "grace@example.org",
        "courseId": "MATH-2",
        "courseName": "Statistics",
    }
    if event_type == "CourseProgress":
        payload.update(status="InProgress", progressPercentage=60.5, startDate="2026-02-01")
    if event_type == "CourseCompletion":
        payload.update(
            status="Completed",
            progressPercentage=100,
            startDate="2026-02-01",
            completionDate="2026-02-28T16:00:00Z",
            certificateUrl="https://itslearning.example/cert/1",
        )
    payload.update(overrides)
    return payload


def generic(status: str, event_id: str = "g-1", **overrides: Any) -> dict[str, Any]:
    """A generic provider's delivery."""
    payload: dict[str, Any] = {
        "event_type": "progress",
        "event_id": event_id,
        "timestamp": "2026-03-01T10:00:00Z",
        "provider": "Coursera",
        "user_identifier": "Linus@Example.org",
        "course_id": "ml-1",
        "course_name": "Machine Learning",
        "status": status,
        "progress_percent": 100 if status == "completed" else 20,
        "started_at": "2026-01-05T08:00:00Z",
        "metadata": {"cohort": "2026-Q1", "hours": 12},
    }
    if status == "completed":
        payload["completed_at"] = "2026-02-15T08:00:00Z"
    payload.update(overrides)
    return payload


def body(payload: dict[str, Any]) -> bytes:
    """The delivery's bytes."""
    return json.dumps(payload).encode()


def pending(engine: sa.Engine) -> list[events.Envelope]:
    """The outbox events not yet published."""
    with db.UnitOfWork(engine).begin() as session:
        return events.pending(session, limit=1000)


def pending_types(engine: sa.Engine) -> list[str]:
    """The types of the pending outbox events, oldest first."""
    return [envelope.type for envelope in pending(engine)]
