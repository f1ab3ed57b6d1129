"""Sample Kintell exports and webhook bodies shared by the Kintell tests."""

from __future__ import annotations

import json
from typing import Any

LANGUAGE_V1_0 = (
    "session_id,participant_email,volunteer_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,language_level,topics"
)
LANGUAGE_V1_1 = LANGUAGE_V1_0 + ",metadata"
MENTORSHIP_V1_0 = (
    "session_id,participant_email,mentor_email,scheduled_at,completed_at,"
    "duration_minutes,rating,feedback_text,focus_area,goals_discussed"
)
LEGACY = (
    "session_id,session_type,participant_email,volunteer_email,date,duration_min,rating,feedback_text,language_level"
)


def csv(header: str, *rows: str, newline: str = "\n") -> bytes:
    """A CSV file from a header and record lines."""
    return newline.join((header, *rows)).encode() + newline.encode()


def language_row(session_id: str = "k-1", **values: str) -> str:
    """One language_session v1.0 row; keyword arguments replace columns."""
    row = {
        "session_id": session_id,
        "participant_email": "Ada@Example.org",
        "volunteer_email": "vol@corp.com",
        "scheduled_at": "2026-03-01T10:00:00Z",
        "completed_at": "2026-03-01T11:00:00Z",
        "duration_minutes": "60",
        "rating": "0.75",
        "feedback_text": "Good practice",
        "language_level": "b1",
        "topics": '"travel, food"',
    }
    row.update(values)
    return ",".join(row.values())


def session_body(delivery_id: str = "d-1", **session: Any) -> bytes:
    """A session-completed delivery; keyword arguments replace (or, with None, drop) session keys."""
    record: dict[str, Any] = {
        "session_id": "k-42",
        "session_type": "language",
        "participant": {"email": "p@example.org", "id": "kin-p-7", "given_name": "Pia"},
        "volunteer": {"email": "v@corp.com", "id": "kin-v-3"},
        "scheduled_at": "2026-03-01T10:00:00Z",
        "completed_at": "2026-03-01T11:00:00+01:00",
        "duration_minutes": 45,
        "rating": 0.5,
        "feedback_text": "We talked about work",
        "language_level": "A2",
        "topics": ["work", "housing"],
        "metadata": {"room": "blue"},
    }
    record.update(session)
    return json.dumps(
        {"delivery_id": delivery_id, "session": {k: v for k, v in record.items() if v is not None}}
    ).encode()


def booking_body(delivery_id: str = "b-1", **session: Any) -> bytes:
    """A booking-confirmed delivery for session k-42."""
    record: dict[str, Any] = {
        "session_id": "k-42",
        "session_type": "language",
        "participant": {"email": "p@example.org"},
        "volunteer": {"email": "v@corp.com"},
        "scheduled_at": "2026-03-01T10:00:00Z",
        "duration_minutes": 45,
        "topics": ["work"],
    }
    record.update(session)
    return json.dumps(
        {"delivery_id": delivery_id, "session": {k: v for k, v in record.items() if v is not None}}
    ).encode()


def rating_body(delivery_id: str = "r-1", **rating: Any) -> bytes:
    """A rating-created delivery for session k-42."""
    record: dict[str, Any] = {
        "rating_id": "kr-1",
        "session_id": "k-42",
        "rater_role": "volunteer",
        "value": 4,
        "scale": "1-5",
        "feedback_text": "Motivated learner",
        "created_at": "2026-03-02T09:00:00Z",
    }
    record.update(rating)
    return json.dumps(
        {"delivery_id": delivery_id, "rating": {k: v for k, v in record.items() if v is not None}}
    ).encode()
