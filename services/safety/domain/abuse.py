"""Threats, hate, harassment and profanity in the nine platform languages, by what is said rather than by slur lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.safety.domain import lexicon_abuse as lexicon
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.obfuscation import gated, normalise

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


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Patterns that start on a word boundary are tried at word starts only (one cheap look-around per
    position instead of every alternative); the others (Cyrillic, Arabic forms that attach) everywhere."""
    at_words = [p.removeprefix(r"\b") for p in patterns if p.startswith(r"\b")]
    anywhere = [p for p in patterns if not p.startswith(r"\b")]
    compiled = [re.compile(r"(?<!\w)(?=\w)(?:" + "|".join(f"(?:{p})" for p in at_words) + ")")] if at_words else []
    compiled += [re.compile("|".join(f"(?:{p})" for p in anywhere))] if anywhere else []
    return tuple(gated(pattern) for pattern in compiled)


_RULES: tuple[tuple[Rule, tuple[re.Pattern[str], ...]], ...] = (
    (THREAT, compile_patterns(lexicon.THREATS)),
    (HATE, compile_patterns(lexicon.HATE)),
    (HARASSMENT, compile_patterns(lexicon.HARASSMENT)),
    (PROFANITY_STRONG, compile_patterns(lexicon.PROFANITY_STRONG)),
    (PROFANITY_MODERATE, compile_patterns(lexicon.PROFANITY_MODERATE)),
)


def find_abuse(text: str, normalised: str | None = None) -> list[Match]:
    """Every threat, hate statement, harassment and (non-English) profanity match (`normalised` as in find_language)."""
    normalised = normalise(text) if normalised is None else normalised
    return [
        Match(rule, Span(m.start(), m.end(), text[m.start() : m.end()]))
        for rule, patterns in _RULES
        for pattern in patterns
        # Most texts match no rule: one search is cheaper than setting up an iteration.
        if pattern.search(normalised) is not None
        for m in pattern.finditer(normalised)
    ]
