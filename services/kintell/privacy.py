"""Where Kintell keeps people: sessions (participant and volunteer) and the ratings given in them."""

from __future__ import annotations

from services.kintell.sealing import RATINGS, SESSIONS
from services.kintell.tables import ratings, sessions
from services.kit.connectors.imports import QUARANTINED
from services.kit.persistence.subjects import Child, Holding, Person, Scrub, SubjectMap

_PERSON = ("external_id", "given_name", "family_name")
# What the participant writes into a session, sealed with their key (services/kintell/sealing.py).
_WRITTEN = ("feedback_text", "goals_discussed", "metadata_json")


def _person(prefix: str, *owned: str) -> Person:
    columns = tuple(f"{prefix}_{c}" for c in _PERSON) + owned
    return Person(email=f"{prefix}_email", profile_id=f"{prefix}_profile_id", owned=columns)


# The participant writes the session's feedback; a rating belongs to the role that gave it. Exports open
# the sealed columns; erasure finds the person by profile id (their e-mail is sealed) and shreds their key.
MAP = SubjectMap(
    service="kintell",
    holdings=(
        QUARANTINED,
        Holding(
            sessions,
            persons={"participant": _person("participant", *_WRITTEN), "volunteer": _person("volunteer")},
            key="session_id",
            children=(
                # An export shows the other role's rating without its text (sealed with the rater's key).
                Child(
                    ratings,
                    column="session_id",
                    key="rating_id",
                    by_column="rater_role",
                    sealed=RATINGS.privacy(),
                    role_owned=("feedback_text",),
                ),
            ),
            sealed=SESSIONS.privacy(),
        ),
    ),
    scrubs=(Scrub(sessions, ("feedback_text", "goals_discussed", "metadata_json")), Scrub(ratings, ("feedback_text",))),
)
