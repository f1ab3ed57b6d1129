"""Rows ⇄ journeys: loads and rewrites a profile's enrolments, flags, counters and milestones."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import orm

from services.profile.domain.journey import Enrolment, EnrolmentStatus, Journey, Milestone, MilestoneKind, Programme
from services.profile.domain.model import ExternalId, Provider
from services.profile.tables import JOURNEY_TABLES, counters, enrolments, flags, milestones


def utc(value: datetime) -> datetime:
    """Every stored time is UTC; SQLite drops the zone, so it is put back."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class JourneyRows:
    """Journey tables of one company, read in bulk and written per profile."""

    def __init__(self, session: orm.Session, *, company_id: str) -> None:
        self._session = session
        self._company_id = company_id

    def load(self, profile_ids: list[str]) -> dict[str, Journey]:
        """The journey of each profile (an empty one when it has no rows)."""
        journeys = {profile_id: Journey() for profile_id in profile_ids}
        if not profile_ids:
            return journeys
        for row in self._rows(enrolments, profile_ids):
            programme = Programme(row["programme"])
            end = utc(row["end_at"]) if row["end_at"] else None
            status = EnrolmentStatus(row["status"])
            journeys[row["profile_id"]].enrolments[programme] = Enrolment(programme, status, utc(row["start_at"]), end)
        for row in self._rows(flags, profile_ids):
            journeys[row["profile_id"]].flags[row["name"]] = bool(row["value"])
        for row in self._rows(counters, profile_ids):
            journeys[row["profile_id"]].counters[row["name"]] = int(row["value"])
        for row in self._rows(milestones, profile_ids, milestones.c.reached_at, milestones.c.kind):
            milestone = Milestone(MilestoneKind(row["kind"]), utc(row["reached_at"]), row["detail"], row["repeat_key"])
            journeys[row["profile_id"]].milestones.append(milestone)
        return journeys

    def replace(self, profile_id: str, journey: Journey | None) -> None:
        """Rewrites the profile's journey rows (deletes them when `journey` is None)."""
        for table in JOURNEY_TABLES:
            self._session.execute(
                table.delete().where(table.c.company_id == self._company_id, table.c.profile_id == profile_id)
            )
        if journey is None:
            return
        owner = {"company_id": self._company_id, "profile_id": profile_id}
        self._insert(enrolments, [_enrolment_row(e) | owner for e in journey.enrolments.values()])
        self._insert(flags, [{"name": n, "value": v} | owner for n, v in journey.flags.items()])
        self._insert(counters, [{"name": n, "value": v} | owner for n, v in journey.counters.items()])
        self._insert(milestones, [_milestone_row(m) | owner for m in journey.milestones])

    @staticmethod
    def external_id(row: sa.RowMapping) -> ExternalId:
        """An external identity row as a domain value."""
        return ExternalId(Provider(row["provider"]), row["external_id"])

    def _rows(self, table: sa.Table, profile_ids: list[str], *order: sa.ColumnElement[object]) -> list[sa.RowMapping]:
        query = sa.select(table).where(table.c.company_id == self._company_id, table.c.profile_id.in_(profile_ids))
        return list(self._session.execute(query.order_by(*order)).mappings())

    def _insert(self, table: sa.Table, rows: list[dict[str, object]]) -> None:
        if rows:
            self._session.execute(table.insert(), rows)


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
        "detail": milestone.detail[:500],
    }
