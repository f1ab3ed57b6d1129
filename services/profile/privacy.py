"""Where the profile service keeps people: the profile, its identities, journey rows, applied source
facts and the merges it took part in."""

from __future__ import annotations

from services.kit.persistence.subjects import Child, Holding, Person, Sealed, SubjectMap
from services.profile.tables import counters, enrolments, external_ids, facts, flags, merges, milestones, profiles

# The id is exported as `external_id` (where the table keeps its blind index).
_EXTERNAL = Sealed(("external_ref",), record="external_id", exported_as={"external_ref": "external_id"})
_OWNED = (
    Child(external_ids, column="profile_id", key="profile_id", sealed=_EXTERNAL),
    *(
        Child(table, column="profile_id", key="profile_id")
        for table in (enrolments, flags, counters, milestones, facts)
    ),
)

# Merges go first: they refer to the profiles being deleted.
MAP = SubjectMap(
    service="profile",
    holdings=(
        Holding(
            merges,
            persons={"survivor": Person(profile_id="survivor_id"), "duplicate": Person(profile_id="duplicate_id")},
            key="merge_id",
        ),
        Holding(
            profiles,
            persons={
                "person": Person(
                    email="email",
                    email_index="email_index",
                    profile_id="profile_id",
                    owned=("given_name", "family_name"),
                )
            },
            key="profile_id",
            children=_OWNED,
            sealed=Sealed(("email", "given_name", "family_name"), record="profile_id", hidden=("email_index",)),
        ),
    ),
)
