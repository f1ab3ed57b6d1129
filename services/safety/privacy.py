"""Where Safety keeps people: flags raised on a person's texts, their reviews and review decisions.

A flag's texts and the notes of its decisions are sealed with the author's key (services/safety/sealing.py):
exports open them, and erasure shreds that key before deleting the rows."""

from __future__ import annotations

from services.kit.persistence.subjects import Child, Holding, Person, SubjectMap
from services.safety.sealing import ACTIONS, FLAGS
from services.safety.tables import flags, review_actions, reviews

_ACTIONS = Child(review_actions, column="review_id", key="action_id", sealed=ACTIONS.privacy())

MAP = SubjectMap(
    service="safety",
    holdings=(
        Holding(
            flags,
            persons={"author": Person(profile_id="profile_id")},
            key="flag_id",
            children=(Child(reviews, column="flag_id", key="review_id", children=(_ACTIONS,)),),
            sealed=FLAGS.privacy(),
        ),
    ),
)
