"""What a review decision records in the audit log: the status change and who decided (notes are free text)."""

from __future__ import annotations

from services.kit.audit.records import AuditEntry
from services.safety.domain.model import Review, ReviewAction


def review_decided(before: Review, after: Review, action: ReviewAction) -> AuditEntry:
    """A reviewer's decision on a flagged text's review."""
    return AuditEntry(
        action="review.decided",
        resource=f"review:{after.review_id}",
        tenant=after.company_id,
        before={"status": before.status.value},
        after={"status": after.status.value, "decision": action.decision.value, "flag_id": after.flag_id},
    )
