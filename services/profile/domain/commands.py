"""Commands and queries the profile service handles."""

from __future__ import annotations

from dataclasses import dataclass

from services.profile.domain.model import PersonRole


@dataclass(frozen=True)
class CreateProfile:
    """Register a person in a company."""

    company_id: str
    email: str
    given_name: str
    family_name: str
    role: PersonRole


@dataclass(frozen=True)
class GetProfile:
    """Read one profile of a company."""

    company_id: str
    profile_id: str
