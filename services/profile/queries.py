"""The read side: one profile by id, and pages of a company's profiles."""

from __future__ import annotations

from typing import Protocol

from services.kit.errors import FieldViolation
from services.kit.paging import PageRequest, page_request
from services.kit.persistence.db import TenantUnitOfWork
from services.profile.domain import commands
from services.profile.domain.model import (
    InvalidProfile,
    Profile,
    check_email,
    live,
    normalise_email,
    validate_profile_id,
)


class ProfileReader(Protocol):
    """What the reads need: profiles by id and in pages; no locks."""

    def get(self, profile_id: str) -> Profile | None: ...

    def page(self, *, email: str, after: str, limit: int) -> list[Profile]: ...


def get_profile(query: commands.GetProfile, *, uow: TenantUnitOfWork[ProfileReader]) -> Profile:
    """One profile of the caller's company, with its identities and journey."""
    profile_id = validate_profile_id(query.profile_id)
    with uow.read(company_id=query.company_id) as profiles:
        return live(profiles.get(profile_id), profile_id)


def list_profiles(query: commands.ListProfiles, *, uow: TenantUnitOfWork[ProfileReader]) -> tuple[list[Profile], str]:
    """A page of the company's profiles (merged-away ones excluded) and the token of the next page."""
    email = normalise_email(query.email)
    if email and check_email(email):
        raise InvalidProfile("the e-mail filter is invalid", violations=check_email(email))
    request = page_request(query.page_size, query.page_token, scope=(query.company_id, email), invalid=InvalidProfile)
    with uow.read(company_id=query.company_id) as profiles:
        page = profiles.page(email=email, after=_after(request), limit=request.size + 1)
    if len(page) <= request.size:
        return page, ""
    page = page[: request.size]
    return page, request.next_token([page[-1].profile_id], more=True)


def _after(request: PageRequest) -> str:
    """The profile id the page starts after ('' for the first page)."""
    if request.after is None:
        return ""
    if len(request.after) != 1:
        # A token of this listing always carries one id; anything else was made by hand.
        violation = FieldViolation("page_token", "use the next_page_token of the same listing")
        raise InvalidProfile("page_token is not valid", violations=[violation])
    return request.after[0]
