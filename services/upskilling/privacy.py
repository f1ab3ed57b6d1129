"""Where the upskilling connector keeps people: course progress and credentials of each learner.

Exports open the sealed columns (services/upskilling/sealing.py) and leave out the provider id's blind
index; erasure finds the learner by profile id (their e-mail is sealed) or by the plain e-mail of a row
not sealed yet, and shreds the learner's key."""

from __future__ import annotations

from dataclasses import replace

from services.kit.connectors.imports import QUARANTINED
from services.kit.persistence.subjects import Holding, Person, SubjectMap
from services.upskilling.sealing import CREDENTIALS, PROGRESS
from services.upskilling.tables import credentials, progress

_LEARNER = Person(
    email="email", profile_id="profile_id", owned=("external_id", "given_name", "family_name", "external_index")
)
_HIDDEN = ("external_index",)

MAP = SubjectMap(
    service="upskilling",
    holdings=(
        QUARANTINED,
        Holding(
            progress,
            persons={"learner": _LEARNER},
            key="progress_id",
            sealed=replace(PROGRESS.privacy(), hidden=_HIDDEN),
        ),
        Holding(
            credentials,
            persons={"learner": _LEARNER},
            key="credential_id",
            sealed=replace(CREDENTIALS.privacy(), hidden=_HIDDEN),
        ),
    ),
)
