"""Rows of the Kintell tables ⇄ domain records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.kintell.domain.model import RaterRole, Rating, Session, SessionFacts, SessionType
from services.kit.connectors.model import Channel, Provenance
from services.kit.connectors.storage import person_of, person_row


def session_row(session: Session) -> dict[str, object]:
    """The `kintell_sessions` row of a session."""
    facts, origin = session.facts, session.provenance
    return {
        "session_id": session.session_id,
        "company_id": session.company_id,
        "external_session_id": facts.external_session_id,
        "session_type": facts.session_type.value,
        **person_row("participant", facts.participant, session.company_id),
        **person_row("volunteer", facts.volunteer, session.company_id),
        "scheduled_at": facts.scheduled_at,
        "completed_at": facts.completed_at,
        "duration_minutes": facts.duration_minutes,
        "rating": facts.rating,
        "feedback_text": facts.feedback_text,
        "language_level": facts.language_level,
        "topics": json.dumps(list(facts.topics)),
        "focus_area": facts.focus_area,
        "goals_discussed": json.dumps(list(facts.goals_discussed)),
        "metadata_json": None if facts.metadata is None else json.dumps(facts.metadata, sort_keys=True),
        "channel": origin.channel.value,
        "import_batch_id": origin.batch_id,
        "delivery_id": origin.delivery_id,
        "received_at": origin.received_at,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


def to_session(row: Mapping[str, Any]) -> Session:
    """The session a `kintell_sessions` row holds."""
    facts = SessionFacts(
        external_session_id=row["external_session_id"],
        session_type=SessionType(row["session_type"]),
        participant=person_of(row, "participant"),
        volunteer=person_of(row, "volunteer"),
        scheduled_at=row["scheduled_at"],
        completed_at=row["completed_at"],
        duration_minutes=row["duration_minutes"],
        rating=row["rating"],
        feedback_text=row["feedback_text"],
        language_level=row["language_level"],
        topics=tuple(json.loads(row["topics"])),
        focus_area=row["focus_area"],
        # Blank once the participant who discussed them is erased.
        goals_discussed=tuple(json.loads(row["goals_discussed"] or "[]")),
        metadata=None if row["metadata_json"] is None else json.loads(row["metadata_json"]),
    )
    origin = Provenance(Channel(row["channel"]), row["received_at"], row["import_batch_id"], row["delivery_id"])
    return Session(row["session_id"], row["company_id"], facts, origin, row["created_at"], row["updated_at"])


def rating_row(rating: Rating) -> dict[str, object]:
    """The `kintell_ratings` row of a rating (no Kintell id is stored as NULL, so many may lack one)."""
    return {
        "rating_id": rating.rating_id,
        "company_id": rating.company_id,
        "session_id": rating.session_id,
        "external_rating_id": rating.external_rating_id or None,
        "rater_role": rating.rater_role.value,
        "rating": rating.rating,
        "feedback_text": rating.feedback_text,
        "given_at": rating.given_at,
        "delivery_id": rating.provenance.delivery_id,
        "received_at": rating.provenance.received_at,
    }


def to_rating(row: Mapping[str, Any]) -> Rating:
    """The rating a `kintell_ratings` row holds."""
    return Rating(
        rating_id=row["rating_id"],
        company_id=row["company_id"],
        session_id=row["session_id"],
        external_rating_id=row["external_rating_id"] or "",
        rater_role=RaterRole(row["rater_role"]),
        rating=row["rating"],
        feedback_text=row["feedback_text"],
        given_at=row["given_at"],
        provenance=Provenance(Channel.WEBHOOK, row["received_at"], delivery_id=row["delivery_id"]),
    )
