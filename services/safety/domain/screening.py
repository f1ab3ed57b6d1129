"""The screening engine: pure, deterministic and explainable; every finding names the rule that fired."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from services.kit.errors import FieldViolation
from services.safety.domain import classifier
from services.safety.domain.abuse import find_abuse
from services.safety.domain.errors import InvalidScreening
from services.safety.domain.findings import (
    Confidence,
    Finding,
    FindingType,
    Match,
    Rule,
    Verdict,
    group,
    redact,
    verdict,
)
from services.safety.domain.language import find_language
from services.safety.domain.obfuscation import normalise
from services.safety.domain.pii import find_pii
from services.safety.domain.self_harm import find_self_harm, fold
from services.safety.domain.spam import find_spam

MAX_TEXT_LENGTH = 20_000
# The verdict on a text without findings (the common case, spared grouping and redaction).
_NOTHING_FOUND = verdict(())


@dataclass(frozen=True)
class Screening:
    """What screening one text found and what may be kept of it."""

    findings: tuple[Finding, ...]
    verdict: Verdict
    redacted_text: str
    content_hash: str


def validate_text(text: str, *, field: str = "text") -> None:
    """Refuses empty text and text over the limit, naming the field."""
    if not text.strip():
        raise InvalidScreening("there is no text to screen", violations=[FieldViolation(field, "is required")])
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidScreening(
            f"{field} is too long to screen",
            violations=[FieldViolation(field, f"must be at most {MAX_TEXT_LENGTH} characters, got {len(text)}")],
        )


def screen(text: str, *, field: str = "text", classify: bool = True) -> Screening:
    """Screens one text for PII, self-harm, profanity, toxic language and spam; `classify=False` leaves the
    trained classifier out (the rules alone, as evaluation compares)."""
    validate_text(text, field=field)
    normalised = normalise(text)
    listed = find_language(text, normalised)
    abuse = find_abuse(text, normalised)
    if listed and abuse:
        abuse = _unexplained(abuse, listed)
    matches = [*find_pii(text), *find_self_harm(text, normalised), *listed, *abuse, *find_spam(text, normalised)]
    if classify:
        matches += classified(
            text, normalised, {m.rule.type for m in matches if m.rule.confidence >= Confidence.MEDIUM}
        )
    if not matches:
        return Screening((), _NOTHING_FOUND, text, content_hash(text))
    findings = group(matches)
    return Screening(findings, verdict(findings), redact(text, findings), content_hash(text))


def classified(text: str, normalised: str, found: set[FindingType]) -> list[Match]:
    """What the trained classifier finds of a type no rule found: its words are not listed, so it names the
    sentence that moved it most. A self-harm finding sends the text to a human like any other; a spam finding
    makes it unsafe like a spam rule of the same confidence; a toxic finding holds it for a human's review."""
    _, model = classifier.shipped()
    rules = classifier_rules()
    return [
        Match(rules[detection.label], detection.span)
        for detection in model.find(text, fold(normalised))
        if rules[detection.label].type not in found
    ]


@cache
def classifier_rules() -> dict[str, Rule]:
    """One rule per label of the shipped classifier; the reason names the model's version."""
    manifest, _ = classifier.shipped()
    version = manifest.model_version
    return {
        "self_harm": Rule(
            "classifier.self_harm", FindingType.SELF_HARM, "", Confidence.MEDIUM,
            f"reads as a risk of self-harm to the trained classifier {version}",
        ),
        "spam": Rule(
            "classifier.spam", FindingType.SPAM, "scam", Confidence.MEDIUM,
            f"reads as spam or a scam to the trained classifier {version}",
        ),
        # Which of threat, hate or harassment the classifier does not say: a human reading it decides.
        "toxic": Rule(
            "classifier.toxic", FindingType.TOXIC, "abuse", Confidence.MEDIUM,
            f"reads as a threat, hate or harassment to the trained classifier {version}",
        ),
    }  # fmt: skip


def _unexplained(extra: list[Match], listed: list[Match]) -> list[Match]:
    """Matches of `extra` that no word-list match of the same type already covers."""
    return [
        m
        for m in extra
        if not any(
            o.rule.type is m.rule.type and o.span.start < m.span.end and m.span.start < o.span.end for o in listed
        )
    ]


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the text, so the original can be recognised without being kept."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
