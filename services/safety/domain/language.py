"""Profanity and toxic-language rules over the normalised text (word lists in wordlists.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.safety.domain import wordlists as words
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.obfuscation import gated, normalise, phrase_pattern, word_pattern

HIGH, MEDIUM, LOW = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
PROFANITY, TOXIC = FindingType.PROFANITY, FindingType.TOXIC


@dataclass(frozen=True)
class _LanguageRule:
    """A rule and the compiled patterns that fire it."""

    rule: Rule
    patterns: tuple[re.Pattern[str], ...]


def _words(rule: Rule, listed: Sequence[str], *, embedded: Sequence[str] = ()) -> _LanguageRule:
    return _LanguageRule(rule, (gated(word_pattern(listed, words.SUFFIXES, embedded=embedded), word_start=True),))


def _phrases(rule: Rule, phrases: Sequence[words.Phrase]) -> _LanguageRule:
    # One pattern per rule: a single scan of the text instead of one per phrase.
    return _LanguageRule(
        rule, (gated(re.compile("|".join(f"(?:{phrase_pattern(p).pattern})" for p in phrases)), word_start=True),)
    )


RULES: tuple[_LanguageRule, ...] = (
    _words(
        Rule("profanity.strong", PROFANITY, "profanity", HIGH, "strong profanity from the word list"),
        words.PROFANITY_STRONG,
        embedded=words.EMBEDDED_ROOTS,
    ),
    _words(
        Rule("profanity.moderate", PROFANITY, "profanity", MEDIUM, "moderate profanity from the word list"),
        words.PROFANITY_MODERATE,
    ),
    _words(
        Rule("profanity.mild", PROFANITY, "profanity", LOW, "mild profanity from the word list"),
        words.PROFANITY_MILD,
    ),
    _words(Rule("toxic.slur", TOXIC, "hate", HIGH, "slur against a protected group"), words.SLURS_HIGH),
    _words(
        Rule("toxic.slur_ambiguous", TOXIC, "hate", MEDIUM, "slur that is rarely also an ordinary word"),
        words.SLURS_MEDIUM,
    ),
    _phrases(
        Rule("toxic.hate_phrase", TOXIC, "hate", HIGH, "dehumanising or xenophobic phrase about a group"),
        words.HATE_PHRASES,
    ),
    _phrases(
        Rule("toxic.threat", TOXIC, "threat", HIGH, "threat of violence or incitement to self-harm"),
        words.THREAT_PHRASES,
    ),
    _phrases(
        Rule("toxic.directed_insult", TOXIC, "insult", MEDIUM, "insult aimed at the reader"), words.DIRECTED_INSULTS
    ),
    _words(Rule("toxic.insult_word", TOXIC, "insult", LOW, "insulting word, not aimed at anyone"), words.INSULT_WORDS),
)


def find_language(text: str, normalised: str | None = None) -> list[Match]:
    """Profanity and toxic matches; a span already explained by a stronger rule of the same type is skipped.
    `normalised` is `normalise(text)` where the caller already has it."""
    normalised = normalise(text) if normalised is None else normalised
    matches: list[Match] = []
    for entry in RULES:
        for pattern in entry.patterns:
            # Most texts match no rule: one search is cheaper than setting up an iteration.
            if pattern.search(normalised) is None:
                continue
            for m in pattern.finditer(normalised):
                span = Span(m.start(), m.end(), text[m.start() : m.end()])
                if not _covered(span, entry.rule.type, matches):
                    matches.append(Match(entry.rule, span))
    return matches


def _covered(span: Span, kind: FindingType, matches: Sequence[Match]) -> bool:
    return any(m.rule.type is kind and m.span.start <= span.start and span.end <= m.span.end for m in matches)
