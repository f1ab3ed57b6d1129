"""What Q2Q records in the audit log: a score set by a person (its note, free text, left out), and a data
subject's records exported or erased (the e-mail naming the subject redacted by the log)."""

from __future__ import annotations

from services.kit.audit.records import AuditEntry
from services.q2q.domain.model import ScoreRecord


def manual_score_recorded(record: ScoreRecord) -> AuditEntry:
    """A person set a score by hand, beside or over the classifier's."""
    source = record.source
    after = {
        "profile_id": record.profile_id,
        "dimension": record.dimension.value,
        "score": record.score.score,
        "method": record.method.value,
        "source_type": None if source is None else source.source_type.value,
        "source_id": None if source is None else source.source_id,
    }
    return AuditEntry(
        action="manual_score.recorded", resource=f"score:{record.score_id}", tenant=record.company_id, after=after
    )


def subject_exported(company_id: str, *, profile_id: str, email: str, records: int) -> AuditEntry:
    """Every record Q2Q holds about a person was handed out (the caller's privacy export)."""
    after = {"profile_id": profile_id, "email": email, "records": records}
    return AuditEntry(
        action="subject.exported", resource=f"subject:{profile_id or '-'}", tenant=company_id, after=after
    )


def subject_erased(
    company_id: str, *, privacy_request_id: str, profile_id: str, email: str, found: int, erased: int, retained: int
) -> AuditEntry:
    """A person's records were erased for a privacy request, with what was found, erased and kept."""
    after = {
        "profile_id": profile_id,
        "email": email,
        "found": found,
        "erased": erased,
        "retained": retained,
    }
    return AuditEntry(
        action="subject.erased", resource=f"privacy_request:{privacy_request_id}", tenant=company_id, after=after
    )
