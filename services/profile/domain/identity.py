"""Identity resolution: finding (or creating) the one profile of a person seen in a source record."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.kit.errors import FieldViolation
from services.profile.domain.errors import ExternalIdConflict, InvalidProfile, ProfileNotFound
from services.profile.domain.model import (
    MAX_NAME_LENGTH,
    ExternalId,
    PersonRole,
    Profile,
    Provider,
    check_email,
    normalise_email,
    validate_external_id,
)

# A merge chain longer than this is corrupt data, not a real history.
MAX_MERGE_HOPS = 16


class IdentityStore(Protocol):
    """What resolution needs from persistence, for one company."""

    def get(self, profile_id: str) -> Profile | None: ...

    def get_by_email(self, email: str) -> Profile | None: ...

    def get_by_external_id(self, external: ExternalId) -> Profile | None: ...

    def add_or_get(self, profile: Profile) -> Profile: ...

    def bind(self, profile_id: str, external: ExternalId, *, now: datetime) -> str: ...


def surviving(store: IdentityStore, profile: Profile | None) -> Profile | None:
    """Follows merges to the profile that survived (the profile itself when never merged)."""
    for _ in range(MAX_MERGE_HOPS):
        if profile is None or profile.merged_into is None:
            return profile
        profile = store.get(profile.merged_into)
    raise ProfileNotFound("merge chain too long", metadata={"profile_id": profile.profile_id if profile else ""})


def bind_external_id(store: IdentityStore, profile: Profile, external: ExternalId, *, now: datetime) -> bool:
    """Binds an external id (idempotent); True when new. A binding to another profile is a conflict."""
    owner = store.bind(profile.profile_id, external, now=now)
    if owner != profile.profile_id:
        raise ExternalIdConflict(
            "the external id is bound to another profile",
            metadata={
                "profile_id": profile.profile_id,
                "bound_profile_id": owner,
                "provider": external.provider.value,
                "external_id": external.external_id,
            },
        )
    if external in profile.external_ids:
        return False
    profile.external_ids.append(external)
    return True


def resolve_person(
    store: IdentityStore,
    *,
    company_id: str,
    email: str,
    provider: Provider,
    external_id: str,
    role: PersonRole,
    names: tuple[str, str] = ("", ""),
    profile_id: str = "",
    now: datetime,
) -> Profile:
    """The person's profile: by known profile id, then e-mail, then external id; created if none matches.

    An external id met together with a matching e-mail is bound to that profile; if it is bound to a
    different profile the records disagree and ExternalIdConflict is raised (resolved by an explicit merge).
    """
    email = normalise_email(email)
    external = validate_external_id(provider, external_id) if external_id.strip() else None
    found = surviving(store, store.get(profile_id) if profile_id else None)
    found = found or surviving(store, store.get_by_email(email) if email else None)
    if found is None and external is not None:
        return surviving(store, store.get_by_external_id(external)) or _create(
            store, company_id=company_id, email=email, role=role, names=names, now=now, external=external
        )
    if found is None:
        return _create(store, company_id=company_id, email=email, role=role, names=names, now=now, external=external)
    if external is not None:
        bind_external_id(store, found, external, now=now)
    return found


def _create(
    store: IdentityStore,
    *,
    company_id: str,
    email: str,
    role: PersonRole,
    names: tuple[str, str],
    now: datetime,
    external: ExternalId | None,
) -> Profile:
    if check_email(email):
        raise InvalidProfile(
            "the person has no usable e-mail and matches no known identity",
            violations=[FieldViolation("email", check_email(email)[0].description)],
        )
    given, family = (name.strip()[:MAX_NAME_LENGTH] for name in names)
    profile = store.add_or_get(
        Profile.register(company_id=company_id, email=email, given_name=given, family_name=family, role=role, now=now)
    )
    if external is not None:
        bind_external_id(store, profile, external, now=now)
    return profile
