"""What the profile service's role-bearing changes record in the audit log (personal fields redacted)."""

from __future__ import annotations

from services.kit.audit.records import AuditEntry
from services.profile.domain.events import ProfilesMerged
from services.profile.domain.model import Profile


def profile_created(profile: Profile) -> AuditEntry:
    """A person registered, with the role they hold in the company."""
    after = {"profile_id": profile.profile_id, "role": profile.role.value, "email": profile.email}
    return AuditEntry(
        action="profile.created", resource=f"profile:{profile.profile_id}", tenant=profile.company_id, after=after
    )


def profiles_merged(merge: ProfilesMerged, company_id: str) -> AuditEntry:
    """A duplicate folded into a survivor (the reason stays in the merges table: it is free text)."""
    before = {"duplicate_profile_id": merge.duplicate_profile_id}
    after = {"merged_into": merge.profile_id}
    return AuditEntry(
        action="profile.merged",
        resource=f"profile:{merge.duplicate_profile_id}",
        tenant=company_id,
        before=before,
        after=after,
    )
