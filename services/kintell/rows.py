"""Rows of the Kintell tables ⇄ domain records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from services.kintell.domain.model import (
    Channel,
    Person,
    Provenance,
    RaterRole,
    Rating,
    Session,
    SessionFacts,
    SessionType,
)
from services.kit.identity import profile_id_for_email


def session_row(session: Session) -> dict[str, Any]:
    facts, origin = session.facts, session.provenance
    return {
        "session_id": session.session_id,
        "company_id": session.company_id,
        "external_session_id": facts.external_session_id,
        "session_type": facts.session_type.value,
        **_person_row("participant", facts.participant, session.company_id),
        **_person_row("volunteer", facts.volunteer, session.company_id),
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


def _person_row(role: str, person: Person, company_id: str) -> dict[str, str]:
    return {
        f"{role}_email": person.email,
        f"{role}_profile_id": profile_id_of(company_id, person.email),
        f"{role}_external_id": person.external_id,
        f"{role}_given_name": person.given_name,
        f"{role}_family_name": person.family_name,
    }


def profile_id_of(company_id: str, email: str) -> str:
    """The unified profile id of the person with this e-mail in this company ('' without an e-mail).

    Stored next to each e-mail so that sessions can be listed by profile without a call to the
    profile service; the migration that added the columns derives it the same way."""
    return profile_id_for_email(company_id, email) if email.strip() else ""


def to_session(row: sa.RowMapping) -> Session:
    facts = SessionFacts(
        external_session_id=row["external_session_id"],
        session_type=SessionType(row["session_type"]),
        participant=_to_person(row, "participant"),
        volunteer=_to_person(row, "volunteer"),
        scheduled_at=utc(row["scheduled_at"]),
        completed_at=None if row["completed_at"] is None else utc(row["completed_at"]),
        duration_minutes=row["duration_minutes"],
        rating=row["rating"],
        feedback_text=row["feedback_text"],
        language_level=row["language_level"],
        topics=tuple(json.loads(row["topics"])),
        focus_area=row["focus_area"],
        goals_discussed=tuple(json.loads(row["goals_discussed"])),
        metadata=None if row["metadata_json"] is None else json.loads(row["metadata_json"]),
    )
    provenance = Provenance(
        channel=Channel(row["channel"]),
        received_at=utc(row["received_at"]),
        batch_id=row["import_batch_id"],
        delivery_id=row["delivery_id"],
    )
    return Session(
        row["session_id"], row["company_id"], facts, provenance, utc(row["created_at"]), utc(row["updated_at"])
    )


def _to_person(row: sa.RowMapping, role: str) -> Person:
    return Person(
        email=row[f"{role}_email"],
        external_id=row[f"{role}_external_id"],
        given_name=row[f"{role}_given_name"],
        family_name=row[f"{role}_family_name"],
    )


def to_rating(row: sa.RowMapping) -> Rating:
    return Rating(
        rating_id=row["rating_id"],
        company_id=row["company_id"],
        session_id=row["session_id"],
        external_rating_id=row["external_rating_id"] or "",
        rater_role=RaterRole(row["rater_role"]),
        rating=row["rating"],
        feedback_text=row["feedback_text"],
        given_at=utc(row["given_at"]),
        provenance=Provenance(Channel.WEBHOOK, utc(row["received_at"]), delivery_id=row["delivery_id"]),
    )


def utc(value: datetime) -> datetime:
    # SQLite drops the zone; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
