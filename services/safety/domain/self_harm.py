"""Self-harm and suicidal-ideation rules in the nine platform languages.

A person who writes that they want to die needs a human, not a filter: every match is routed to
review with the highest priority and is never rejected automatically (see findings.verdict).
First-person statements of intent or wish are high confidence; naming the topic (e.g. "suicide")
is medium. Idioms ("this homework is killing me", "dying to see you") are deliberately not listed.
"""

from __future__ import annotations

import re

from services.safety.domain.abuse import compile_patterns
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.lexicon_self_harm import INTENT_PATTERNS, TOPIC_PATTERNS
from services.safety.domain.obfuscation import normalise

INTENT = Rule(
    "self_harm.intent",
    FindingType.SELF_HARM,
    "suicidal_ideation",
    Confidence.HIGH,
    "first-person wish or plan to die, end one's life or harm oneself",
)
TOPIC = Rule(
    "self_harm.topic",
    FindingType.SELF_HARM,
    "self_harm_mention",
    Confidence.MEDIUM,
    "names suicide or self-harm",
)

_INTENT_RE = compile_patterns([p for patterns in INTENT_PATTERNS.values() for p in patterns])
_TOPIC_RE = compile_patterns(TOPIC_PATTERNS)


def find_self_harm(text: str, normalised: str | None = None) -> list[Match]:
    """Statements of suicidal intent (high) and mentions of suicide or self-harm (medium); `normalised` is
    `normalise(text)` where the caller already has it."""
    normalised = normalise(text) if normalised is None else normalised
    # Most texts match no rule: one search is cheaper than setting up an iteration.
    intent = [p for p in _INTENT_RE if p.search(normalised) is not None]
    matches = [Match(INTENT, _span(text, m)) for pattern in intent for m in pattern.finditer(normalised)]
    topic = [p for p in _TOPIC_RE if p.search(normalised) is not None]
    for m in (m for pattern in topic for m in pattern.finditer(normalised)):
        if not any(hit.span.start <= m.start() < hit.span.end for hit in matches):
            matches.append(Match(TOPIC, _span(text, m)))
    return matches


def _span(text: str, m: re.Match[str]) -> Span:
    return Span(m.start(), m.end(), text[m.start() : m.end()])
