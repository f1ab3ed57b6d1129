"""Flags (the findings of one screened text) and the human review queue with its state machine."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.kit.text_sources import TextSourceType
from services.safety.domain.errors import ReviewAlreadyDecided
from services.safety.domain.findings import Finding, FindingType, Priority, Span, priority
from services.safety.domain.screening import Screening


class Outcome(StrEnum):
    """Verdict that travels with the text."""

    PASSED = "passed"
    UNSAFE = "unsafe"
    PENDING_REVIEW = "pending_review"


class ReviewStatus(StrEnum):
    """Where a review is in the queue."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class ReviewDecision(StrEnum):
    """What a reviewer decides."""

    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"


_DECISION_STATUS = {
    ReviewDecision.APPROVE: ReviewStatus.APPROVED,
    ReviewDecision.REJECT: ReviewStatus.REJECTED,
    ReviewDecision.ESCALATE: ReviewStatus.ESCALATED,
}
OPEN_STATUSES = frozenset({ReviewStatus.PENDING, ReviewStatus.ESCALATED})


def outcome_of(*, is_unsafe: bool, requires_review: bool) -> Outcome:
    """A text held for review is pending; otherwise unsafe text must not be scored and the rest passes."""
    if requires_review:
        return Outcome.PENDING_REVIEW
    return Outcome.UNSAFE if is_unsafe else Outcome.PASSED


@dataclass(frozen=True)
class TextSource:
    """Where a screened text lives: its record id ("" for ad hoc text), kind and author."""

    source_text_id: str
    source_text_type: TextSourceType
    profile_id: str


@dataclass(frozen=True)
class Flag:
    """The findings of one screened text; the original text and matched PII are never kept."""

    flag_id: str
    company_id: str
    source: TextSource
    findings: tuple[Finding, ...]
    is_unsafe: bool
    requires_review: bool
    review_id: str
    redacted_text: str
    content_hash: str
    created_at: datetime

    @classmethod
    def raise_for(cls, *, company_id: str, source: TextSource, screening: Screening, now: datetime) -> Flag:
        """A new flag for a screening that found something; queues a review id when one is required."""
        review_id = str(uuid.uuid4()) if screening.verdict.requires_review else ""
        return cls(
            flag_id=str(uuid.uuid4()),
            company_id=company_id,
            source=source,
            findings=without_matched_text(screening.findings),
            is_unsafe=screening.verdict.is_unsafe,
            requires_review=screening.verdict.requires_review,
            review_id=review_id,
            redacted_text=screening.redacted_text,
            content_hash=screening.content_hash,
            created_at=now,
        )

    @property
    def outcome(self) -> Outcome:
        """The verdict of the flagged text."""
        return outcome_of(is_unsafe=self.is_unsafe, requires_review=self.requires_review)


def without_matched_text(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """The findings with offsets only, so no matched text (PII above all) is kept or sent on."""
    return tuple(replace(f, spans=tuple(Span(s.start, s.end) for s in f.spans)) for f in findings)


@dataclass(frozen=True)
class ReviewAction:
    """One decision taken on a review."""

    decision: ReviewDecision
    reviewer: str
    notes: str
    decided_at: datetime


@dataclass(frozen=True)
class Review:
    """A flag waiting for (or decided by) a human; `version` guards against concurrent decisions."""

    review_id: str
    company_id: str
    flag_id: str
    status: ReviewStatus
    history: tuple[ReviewAction, ...]
    created_at: datetime
    version: int = 0
    priority: Priority = Priority.ROUTINE

    @classmethod
    def queue(cls, flag: Flag) -> Review:
        """The pending review of a flag that requires one, as urgent as its most urgent finding."""
        return cls(
            flag.review_id,
            flag.company_id,
            flag.flag_id,
            ReviewStatus.PENDING,
            (),
            flag.created_at,
            priority=priority(flag.findings),
        )

    @property
    def latest(self) -> ReviewAction | None:
        """The latest decision, if any."""
        return self.history[-1] if self.history else None

    @property
    def completed(self) -> bool:
        """Approved or rejected: final."""
        return self.status not in OPEN_STATUSES

    def decide(self, action: ReviewAction) -> Review:
        """Applies a decision; only pending or escalated reviews can be decided."""
        if self.completed:
            raise ReviewAlreadyDecided(
                f"the review is already {self.status.value}",
                metadata={"review_id": self.review_id, "status": self.status.value},
            )
        return replace(
            self,
            status=_DECISION_STATUS[action.decision],
            history=(*self.history, action),
            version=self.version + 1,
        )


@dataclass(frozen=True)
class ReviewRecord:
    """A review together with the flag it is about."""

    review: Review
    flag: Flag


@dataclass(frozen=True)
class ScreenResult:
    """The answer to a screening: findings, verdict, redacted text, and the flag and review if persisted."""

    findings: tuple[Finding, ...]
    is_unsafe: bool
    requires_review: bool
    redacted_text: str
    redacted: bool
    outcome: Outcome
    flag_id: str = ""
    review_id: str = ""

    @classmethod
    def of_screening(cls, screening: Screening) -> ScreenResult:
        """The result of a screening that was not persisted."""
        verdict = screening.verdict
        return cls(
            findings=without_matched_text(screening.findings),
            is_unsafe=verdict.is_unsafe,
            requires_review=verdict.requires_review,
            redacted_text=screening.redacted_text,
            redacted=verdict.redacted,
            outcome=outcome_of(is_unsafe=verdict.is_unsafe, requires_review=verdict.requires_review),
        )

    @classmethod
    def of_flag(cls, flag: Flag) -> ScreenResult:
        """The result recorded in a flag."""
        return cls(
            findings=flag.findings,
            is_unsafe=flag.is_unsafe,
            requires_review=flag.requires_review,
            redacted_text=flag.redacted_text,
            redacted=any(f.type is FindingType.PII for f in flag.findings),
            outcome=flag.outcome,
            flag_id=flag.flag_id,
            review_id=flag.review_id,
        )
