"""Rows ⇄ domain objects for the safety tables (findings are kept as JSON, offsets only)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from services.kit.text_sources import TextSourceType
from services.safety.domain.findings import Confidence, Finding, FindingType, Priority, Span
from services.safety.domain.model import (
    Flag,
    Review,
    ReviewAction,
    ReviewDecision,
    ReviewRecord,
    ReviewStatus,
    TextSource,
)


class FlagRow(TypedDict):
    """A safety_flags row."""

    flag_id: str
    company_id: str
    source_text_id: str | None
    source_text_type: str
    profile_id: str
    findings: str
    finding_types: str
    is_unsafe: bool
    requires_review: bool
    review_id: str | None
    redacted_text: str
    content_hash: str
    created_at: datetime


class ReviewRow(TypedDict):
    """A safety_reviews row."""

    review_id: str
    company_id: str
    flag_id: str
    status: str
    version: int
    created_at: datetime
    priority: int


class ActionRow(TypedDict):
    """A safety_review_actions row (its id is the table's own)."""

    review_id: str
    decision: str
    reviewer: str
    notes: str
    decided_at: datetime


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


def finding_types(findings: Sequence[Finding]) -> str:
    """The finding types of a flag as `|a|b|`, so one type is matched with LIKE '%|a|%'."""
    return "|" + "|".join(sorted({f.type.value for f in findings})) + "|"


def flag_row(flag: Flag) -> FlagRow:
    """The row of a flag."""
    return FlagRow(
        flag_id=flag.flag_id,
        company_id=flag.company_id,
        source_text_id=flag.source.source_text_id or None,
        source_text_type=flag.source.source_text_type.value,
        profile_id=flag.source.profile_id,
        findings=findings_json(flag.findings),
        finding_types=finding_types(flag.findings),
        is_unsafe=flag.is_unsafe,
        requires_review=flag.requires_review,
        review_id=flag.review_id or None,
        redacted_text=flag.redacted_text,
        content_hash=flag.content_hash,
        created_at=flag.created_at,
    )


def to_flag(row: Mapping[str, Any], prefix: str = "") -> Flag:
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
        created_at=row[f"{prefix}created_at"],
    )


def review_row(review: Review) -> ReviewRow:
    """The row of a review."""
    return ReviewRow(
        review_id=review.review_id,
        company_id=review.company_id,
        flag_id=review.flag_id,
        status=review.status.value,
        version=review.version,
        created_at=review.created_at,
        priority=review.priority.value,
    )


def action_row(review_id: str, action: ReviewAction) -> ActionRow:
    """The row of one decision on a review."""
    return ActionRow(
        review_id=review_id,
        decision=action.decision.value,
        reviewer=action.reviewer,
        notes=action.notes,
        decided_at=action.decided_at,
    )


def to_review_record(row: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> ReviewRecord:
    """A review and its flag from a joined row (flag columns named `flag__…`) and the review's decisions."""
    review = Review(
        review_id=row["review_id"],
        company_id=row["company_id"],
        flag_id=row["flag_id"],
        status=ReviewStatus(row["status"]),
        history=tuple(
            ReviewAction(ReviewDecision(a["decision"]), a["reviewer"], a["notes"], a["decided_at"]) for a in history
        ),
        created_at=row["created_at"],
        version=row["version"],
        priority=Priority(row["priority"]),
    )
    return ReviewRecord(review, to_flag(row, prefix="flag__"))
