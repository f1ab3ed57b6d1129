"""Threats, hate, harassment and profanity in the nine platform languages, by what is said rather than by slur lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.safety.domain import lexicon_abuse as lexicon
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.obfuscation import normalise

THREAT = Rule("toxic.threat_multilingual", FindingType.TOXIC, "threat", Confidence.HIGH, "threat of violence")
HATE = Rule(
    "toxic.hate_statement",
    FindingType.TOXIC,
    "hate",
    Confidence.HIGH,
    "calls for removal or harm of a group, dehumanises it, or tells someone to go back to their country",
)
HARASSMENT = Rule(
    "toxic.harassment", FindingType.TOXIC, "insult", Confidence.MEDIUM, "insult or harassment aimed at the reader"
)
PROFANITY_STRONG = Rule(
    "profanity.strong_multilingual", FindingType.PROFANITY, "profanity", Confidence.HIGH, "strong profanity"
)
PROFANITY_MODERATE = Rule(
    "profanity.moderate_multilingual", FindingType.PROFANITY, "profanity", Confidence.MEDIUM, "moderate profanity"
)


def _compile(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_RULES: tuple[tuple[Rule, re.Pattern[str]], ...] = (
    (THREAT, _compile(lexicon.THREATS)),
    (HATE, _compile(lexicon.HATE)),
    (HARASSMENT, _compile(lexicon.HARASSMENT)),
    (PROFANITY_STRONG, _compile(lexicon.PROFANITY_STRONG)),
    (PROFANITY_MODERATE, _compile(lexicon.PROFANITY_MODERATE)),
)


def find_abuse(text: str) -> list[Match]:
    """Every threat, hate statement, harassment and (non-English) profanity match."""
    normalised = normalise(text)
    return [
        Match(rule, Span(m.start(), m.end(), text[m.start() : m.end()]))
        for rule, pattern in _RULES
        for m in pattern.finditer(normalised)
    ]
