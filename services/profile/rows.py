"""Rows ⇄ domain: profiles, external identities and journeys as the profile tables store them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from services.profile.domain.journey import Enrolment, EnrolmentStatus, Journey, Milestone, MilestoneKind, Programme
from services.profile.domain.model import ExternalId, PersonRole, Profile
from services.profile.tables import counters, enrolments, flags, milestones

Rows = Iterable[Mapping[str, Any]]
MAX_DETAIL_LENGTH = 500


def profile_row(profile: Profile) -> dict[str, object]:
    """The `profiles` row of a new profile, but its personal fields (sealing.profile_fields seals them)."""
    return {
        "profile_id": profile.profile_id,
        "company_id": profile.company_id,
        "role": profile.role.value,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def to_profile(row: Mapping[str, Any], identities: list[ExternalId], journey: Journey) -> Profile:
    """A profile from its row, its external identities and its journey."""
    return Profile(
        profile_id=row["profile_id"],
        company_id=row["company_id"],
        email=row["email"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        role=PersonRole(row["role"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        external_ids=sorted(identities),
        journey=journey,
        merged_into=row["merged_into"],
    )


def to_journeys(profile_ids: Sequence[str], rows: Mapping[sa.Table, Rows]) -> dict[str, Journey]:
    """The journey of each profile from the rows of every journey table (an empty one when it has none)."""
    journeys = {profile_id: Journey() for profile_id in profile_ids}
    for row in rows.get(enrolments, ()):
        enrolment = Enrolment(
            Programme(row["programme"]), EnrolmentStatus(row["status"]), row["start_at"], row["end_at"]
        )
        journeys[row["profile_id"]].enrolments[enrolment.programme] = enrolment
    for row in rows.get(flags, ()):
        journeys[row["profile_id"]].flags[row["name"]] = bool(row["value"])
    for row in rows.get(counters, ()):
        journeys[row["profile_id"]].counters[row["name"]] = int(row["value"])
    for row in rows.get(milestones, ()):
        milestone = Milestone(MilestoneKind(row["kind"]), row["reached_at"], row["detail"], row["repeat_key"])
        journeys[row["profile_id"]].milestones.append(milestone)
    return journeys


def journey_rows(journey: Journey) -> dict[sa.Table, list[dict[str, object]]]:
    """The rows of every journey table for one journey (without the owning company and profile)."""
    return {
        enrolments: [_enrolment_row(e) for e in journey.enrolments.values()],
        flags: [{"name": name, "value": value} for name, value in journey.flags.items()],
        counters: [{"name": name, "value": value} for name, value in journey.counters.items()],
        milestones: [_milestone_row(m) for m in journey.milestones],
    }


def _enrolment_row(enrolment: Enrolment) -> dict[str, object]:
    return {
        "programme": enrolment.programme.value,
        "status": enrolment.status.value,
        "start_at": enrolment.start_at,
        "end_at": enrolment.end_at,
    }


def _milestone_row(milestone: Milestone) -> dict[str, object]:
    return {
        "kind": milestone.kind.value,
        "repeat_key": milestone.key,
        "reached_at": milestone.reached_at,
        "detail": milestone.detail[:MAX_DETAIL_LENGTH],
    }
