"""Events the profile domain records; the adapter publishes them through the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from services.profile.domain.journey import Milestone


@dataclass(frozen=True)
class MilestoneReached:
    """A profile reached a journey milestone."""

    profile_id: str
    milestone: Milestone


@dataclass(frozen=True)
class ProfilesMerged:
    """A duplicate profile was folded into a surviving one."""

    profile_id: str
    duplicate_profile_id: str
    reason: str
    actor: str


ProfileEvent = MilestoneReached | ProfilesMerged
