"""Findings of a screened text, the verdict thresholds and PII redaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum


class FindingType(StrEnum):
    """Kind of finding."""

    PROFANITY = "profanity"
    PII = "pii"
    TOXIC = "toxic"
    SPAM = "spam"
    SELF_HARM = "self_harm"


class Priority(int, Enum):
    """How urgently a review needs a human; the queue lists higher values first."""

    ROUTINE = 1
    HIGH = 2
    URGENT = 3


class Confidence(float, Enum):
    """The only three confidences a rule may state."""

    LOW = 0.3
    MEDIUM = 0.6
    HIGH = 0.9


# Placeholders that replace PII spans in the kept text, per PII subtype.
PLACEHOLDERS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "payment_card": "[CARD]",
    "national_id": "[NATIONAL_ID]",
}


# The lowest confidence per finding type that sends a text to human review.
_REVIEW_FLOORS: dict[FindingType, Confidence] = {
    FindingType.TOXIC: Confidence.MEDIUM,
    FindingType.PROFANITY: Confidence.HIGH,
    FindingType.PII: Confidence.HIGH,
    # A person may be at risk: any self-harm finding goes to a human.
    FindingType.SELF_HARM: Confidence.LOW,
}
# Finding types that describe the author's own risk, not abuse: they never make a text unsafe
# (which would drop it without a human), they only send it to review.
_NOT_ABUSE = frozenset({FindingType.PII, FindingType.SELF_HARM})


@dataclass(frozen=True)
class Rule:
    """One screening rule: what it finds, how sure it is, and why it fires."""

    name: str
    type: FindingType
    subtype: str
    confidence: Confidence
    reason: str


@dataclass(frozen=True)
class Span:
    """A character range of the screened text (Python str indices, end exclusive) and its text."""

    start: int
    end: int
    text: str = ""


@dataclass(frozen=True)
class Match:
    """One place where a rule fired."""

    rule: Rule
    span: Span


@dataclass(frozen=True)
class Finding:
    """Every match of one rule in a text."""

    type: FindingType
    subtype: str
    confidence: Confidence
    reason: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Verdict:
    """What the findings mean for the text."""

    is_unsafe: bool
    requires_review: bool
    redacted: bool


def group(matches: Iterable[Match]) -> tuple[Finding, ...]:
    """One finding per rule, spans in text order; findings in order of their first span."""
    by_rule: dict[Rule, list[Span]] = {}
    for match in matches:
        by_rule.setdefault(match.rule, []).append(match.span)
    findings = [
        Finding(rule.type, rule.subtype, rule.confidence, rule.reason, tuple(sorted(spans, key=_order)))
        for rule, spans in by_rule.items()
    ]
    return tuple(sorted(findings, key=lambda f: (_order(f.spans[0]), f.type.value, f.subtype)))


def _order(span: Span) -> tuple[int, int]:
    return span.start, span.end


def verdict(findings: Sequence[Finding]) -> Verdict:
    """Unsafe when any abuse finding (not PII, not self-harm) is >= 0.6; review when toxic >= 0.6,
    profanity >= 0.9, PII >= 0.9 or on any self-harm finding."""
    unsafe = any(f.type not in _NOT_ABUSE and f.confidence >= Confidence.MEDIUM for f in findings)
    review = any(_needs_review(f) for f in findings)
    return Verdict(unsafe, review, any(f.type is FindingType.PII for f in findings))


def _needs_review(finding: Finding) -> bool:
    floor = _REVIEW_FLOORS.get(finding.type)
    return floor is not None and finding.confidence >= floor


def priority(findings: Sequence[Finding]) -> Priority:
    """Self-harm is urgent, threats of violence are high, everything else is routine."""
    if any(f.type is FindingType.SELF_HARM for f in findings):
        return Priority.URGENT
    if any(f.type is FindingType.TOXIC and f.subtype == "threat" for f in findings):
        return Priority.HIGH
    return Priority.ROUTINE


def redact(text: str, findings: Sequence[Finding]) -> str:
    """The text with every PII span replaced by its typed placeholder (overlapping spans merged)."""
    spans = sorted(
        (span.start, span.end, PLACEHOLDERS.get(f.subtype, "[PII]"))
        for f in findings
        if f.type is FindingType.PII
        for span in f.spans
    )
    pieces: list[str] = []
    cursor = 0
    for start, end, placeholder in spans:
        if start < cursor:
            # Overlaps the previous span, which already replaced this text.
            cursor = max(cursor, end)
            continue
        pieces += [text[cursor:start], placeholder]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
