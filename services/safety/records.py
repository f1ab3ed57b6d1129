"""Rows ⇄ domain objects for the safety tables (findings are kept as JSON, offsets only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from services.safety.domain.findings import Confidence, Finding, FindingType, Span
from services.safety.domain.model import (
    Flag,
    Review,
    ReviewAction,
    ReviewDecision,
    ReviewRecord,
    ReviewStatus,
    TextSource,
    TextSourceType,
)


def findings_json(findings: Sequence[Finding]) -> str:
    """Findings as JSON: type, subtype, confidence, reason and span offsets; never the matched text."""
    return json.dumps(
        [
            {
                "type": f.type.value,
                "subtype": f.subtype,
                "confidence": f.confidence.value,
                "reason": f.reason,
                "spans": [[s.start, s.end] for s in f.spans],
            }
            for f in findings
        ],
        separators=(",", ":"),
    )


def findings_from_json(raw: str) -> tuple[Finding, ...]:
    """Findings read back from JSON."""
    return tuple(
        Finding(
            FindingType(item["type"]),
            item["subtype"],
            Confidence(item["confidence"]),
            item["reason"],
            tuple(Span(start, end) for start, end in item["spans"]),
        )
        for item in json.loads(raw)
    )


def flag_row(flag: Flag) -> dict[str, Any]:
    """The row of a flag."""
    types = sorted({f.type.value for f in flag.findings})
    return {
        "flag_id": flag.flag_id,
        "company_id": flag.company_id,
        "source_text_id": flag.source.source_text_id or None,
        "source_text_type": flag.source.source_text_type.value,
        "profile_id": flag.source.profile_id,
        "findings": findings_json(flag.findings),
        "finding_types": "|" + "|".join(types) + "|",
        "is_unsafe": flag.is_unsafe,
        "requires_review": flag.requires_review,
        "review_id": flag.review_id or None,
        "redacted_text": flag.redacted_text,
        "content_hash": flag.content_hash,
        "created_at": flag.created_at,
    }


def to_flag(row: sa.RowMapping, prefix: str = "") -> Flag:
    """A flag from its row (or from the `prefix`-named columns of a joined row)."""
    return Flag(
        flag_id=row[f"{prefix}flag_id"],
        company_id=row[f"{prefix}company_id"],
        source=TextSource(
            row[f"{prefix}source_text_id"] or "",
            TextSourceType(row[f"{prefix}source_text_type"]),
            row[f"{prefix}profile_id"],
        ),
        findings=findings_from_json(row[f"{prefix}findings"]),
        is_unsafe=bool(row[f"{prefix}is_unsafe"]),
        requires_review=bool(row[f"{prefix}requires_review"]),
        review_id=row[f"{prefix}review_id"] or "",
        redacted_text=row[f"{prefix}redacted_text"],
        content_hash=row[f"{prefix}content_hash"],
        created_at=utc(row[f"{prefix}created_at"]),
    )


def review_row(review: Review) -> dict[str, Any]:
    """The row of a review."""
    return {
        "review_id": review.review_id,
        "company_id": review.company_id,
        "flag_id": review.flag_id,
        "status": review.status.value,
        "version": review.version,
        "created_at": review.created_at,
    }


def action_row(review: Review) -> dict[str, Any]:
    """The row of a review's latest decision."""
    action = review.history[-1]
    return {
        "review_id": review.review_id,
        "decision": action.decision.value,
        "reviewer": action.reviewer,
        "notes": action.notes,
        "decided_at": action.decided_at,
    }


def to_review_record(row: sa.RowMapping, history: Sequence[sa.RowMapping]) -> ReviewRecord:
    """A review and its flag from a joined row and the review's decisions."""
    review = Review(
        review_id=row["review_id"],
        company_id=row["company_id"],
        flag_id=row["flag_id"],
        status=ReviewStatus(row["status"]),
        history=tuple(
            ReviewAction(ReviewDecision(a["decision"]), a["reviewer"], a["notes"], utc(a["decided_at"]))
            for a in history
        ),
        created_at=utc(row["created_at"]),
        version=row["version"],
    )
    return ReviewRecord(review, to_flag(row, prefix="flag__"))


def utc(value: datetime) -> datetime:
    """Stored times are UTC; SQLite drops the zone."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
