"""Threats, hate, harassment and profanity in the nine platform languages, by what is said rather than by slur lists."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.safety.domain import lexicon_abuse as lexicon
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.obfuscation import first_characters, gated_knowing, normalise

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
    position instead of every alternative); the others (Cyrillic, Arabic forms that attach) everywhere.
    Alternatives are grouped by the character they start with (see by_first_character), and each pattern is
    gated (obfuscation.gated) by the characters its alternatives start with, worked out once per alternative."""
    at_words = [p.removeprefix(r"\b") for p in patterns if p.startswith(r"\b")]
    anywhere = [p for p in patterns if not p.startswith(r"\b")]
    compiled = []
    if at_words:
        firsts = [first_characters(alternative) for alternative in at_words]
        grouped = r"(?<!\w)(?=\w)(?:" + _grouped(at_words, firsts) + ")"
        compiled.append(gated_knowing(grouped, _union(firsts)))
    if anywhere:
        firsts = [first_characters(alternative) for alternative in anywhere]
        compiled.append(gated_knowing(_grouped(anywhere, firsts), _union(firsts)))
    return tuple(compiled)


def _union(firsts: Sequence[set[str] | None]) -> set[str] | None:
    """The characters any of the alternatives can start with; None when one may start with any."""
    if any(first is None for first in firsts):
        return None
    return set().union(*(first for first in firsts if first))


def by_first_character(alternatives: Sequence[str]) -> str:
    """The alternatives as one pattern that, at each position, tries only those that can start with the character
    there: `(?=a)(?:alternatives starting with a)|(?=b)(?:...)`, behind a look-ahead for a range of characters.
    Each keeps its order among those that can start with the same character, so every position matches exactly
    what the plain alternation `a1|a2|...` matches; the engine tests a few look-aheads instead of entering every
    alternative. An alternative that may start with any character (`\\w+ would be ...`) goes into every bucket,
    and after them for characters no bucket names."""
    return _grouped(alternatives, [first_characters(alternative) for alternative in alternatives])


def _grouped(alternatives: Sequence[str], first_sets: Sequence[set[str] | None]) -> str:
    """by_first_character, given each alternative's first characters (first_characters)."""
    firsts = [None if first is None or any(len(piece) != 1 for piece in first) else first for first in first_sets]
    known = [first for first in firsts if first is not None]
    if not known:
        return "|".join(f"(?:{a})" for a in alternatives)
    chars = sorted(set().union(*known))
    buckets = []
    for ch in chars:
        members = "|".join(
            f"(?:{a})" for a, first in zip(alternatives, firsts, strict=True) if first is None or ch in first
        )
        buckets.append(f"(?={re.escape(ch)})(?:{members})")
    # Two levels: a look-ahead for a range of first characters, then one per character within it.
    size = max(1, round(len(chars) ** 0.5))
    groups = []
    for start in range(0, len(chars), size):
        members = "".join(re.escape(ch) for ch in chars[start : start + size])
        groups.append(f"(?=[{members}])(?:{'|'.join(buckets[start : start + size])})")
    anywhere = [f"(?:{a})" for a, first in zip(alternatives, firsts, strict=True) if first is None]
    if anywhere:
        groups.append(f"(?![{''.join(re.escape(ch) for ch in chars)}])(?:{'|'.join(anywhere)})")
    return "|".join(groups)


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
