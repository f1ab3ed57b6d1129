"""The Kintell connector's personal fields at rest: each person's e-mail, Kintell id and names sealed
with that person's key; the session's free text (feedback, goals, metadata) with the participant's,
who writes it; a rating's feedback with the rater's (the session's person in the rater's role); a
quarantined CSV row with the key of every person it names, in turn (services/kit/connectors/imports.py).

Look-ups by e-mail compare `<role>_profile_id` (services/kit/connectors/sealing.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from services.kintell.tables import ratings, sessions
from services.kit.connectors.imports import QUARANTINE
from services.kit.connectors.sealing import BATCH, Row, SealedTable, seal_all, unseal_all
from services.kit.security.pii import PiiCipher

SESSIONS = SealedTable.of(
    sessions,
    record="session_id",
    persons=("participant", "volunteer"),
    texts=dict.fromkeys(("feedback_text", "goals_discussed", "metadata_json"), "participant_profile_id"),
)


def rater(session: orm.Session, row: Row) -> str:
    """The profile id of the person who gave a rating: the session's person in the rater's role."""
    column = sessions.c[f"{row['rater_role']}_profile_id"]
    found = session.execute(sa.select(column).where(sessions.c.session_id == row["session_id"])).scalar()
    return str(found or "")


RATINGS = SealedTable.of(ratings, record="rating_id", writers={"feedback_text": rater})
TABLES = (SESSIONS, RATINGS, QUARANTINE)


def seal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Seals up to `batch` rows still plain (sessions, ratings, then quarantined rows); the number sealed."""
    return seal_all(TABLES, session, cipher, batch=batch)


def unseal_batch(session: orm.Session, cipher: PiiCipher, *, batch: int = BATCH) -> int:
    """Writes up to `batch` sealed rows back in plain text; the number changed."""
    return unseal_all(TABLES, session, cipher, batch=batch)
