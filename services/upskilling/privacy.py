"""Where the upskilling connector keeps people: course progress and credentials of each learner."""

from __future__ import annotations

from services.kit.persistence.subjects import Holding, Person, SubjectMap
from services.upskilling.tables import credentials, progress

_LEARNER = Person(email="email", profile_id="profile_id", owned=("external_id", "given_name", "family_name"))

MAP = SubjectMap(
    service="upskilling",
    holdings=(
        Holding(progress, persons={"learner": _LEARNER}, key="progress_id"),
        Holding(credentials, persons={"learner": _LEARNER}, key="credential_id"),
    ),
)
