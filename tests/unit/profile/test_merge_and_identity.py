"""Merges through the handlers: facts follow the survivor, identities resolve to it, milestones keep the earliest."""

from __future__ import annotations

import sqlalchemy as sa

from services.profile import handlers
from services.profile.domain.commands import MergeProfiles
from services.profile.domain.journey import MilestoneKind
from services.profile.repository import SqlProfileUnitOfWork
from tests.unit.profile.support import PARTICIPANT, count, deliver, milestones, outbox, profile, session_completed


def test_after_a_merge_the_duplicates_sessions_and_identities_belong_to_the_survivor(
    engine: sa.Engine, uow: SqlProfileUnitOfWork
) -> None:
    first = session_completed("k-1", day=3, participant="old@example.org")
    first.participant.external_id = "k-old"
    deliver(engine, first)
    deliver(engine, session_completed("k-2", day=5))
    survivor, duplicate = profile(uow, PARTICIPANT), profile(uow, "old@example.org")
    merged = handlers.merge_profiles(
        MergeProfiles("acme", survivor.profile_id, duplicate.profile_id, "same person", "user-1"), uow=uow
    )
    assert merged.journey.counter("language_sessions_completed") == 2
    first_session = [m for m in merged.journey.milestones if m.kind is MilestoneKind.FIRST_LANGUAGE_SESSION]
    assert [m.reached_at.day for m in first_session] == [3]
    deliver(engine, first)
    deliver(engine, session_completed("k-3", day=7, participant="old@example.org"))
    after = profile(uow, PARTICIPANT)
    assert after.journey.counter("language_sessions_completed") == 3
    assert {e.external_id for e in after.external_ids} == {"k-old", "k-pat"}
    assert count(uow) == 2
    kinds = [kind for _, kind, _ in milestones(engine)]
    assert kinds.count("MILESTONE_KIND_FIRST_LANGUAGE_SESSION") == 2
    assert [e.type for e in outbox(engine)].count("profile.profiles.merged") == 1
