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
from services.safety.domain.lexicon_self_harm import (
    BURDEN_PATTERNS,
    DOSE_PATTERNS,
    FAREWELL_PATTERNS,
    FILLED_PATTERNS,
    INTENT_PATTERNS,
    PREVENTION_AFTER,
    PREVENTION_BEFORE,
    PREVENTION_COMPOUND,
    REFLEXIVE_PATTERNS,
    TOPIC_PATTERNS,
)
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

# People in distress often type without diacritics ("nie chce zyc", "quiero morirme ya", "ich wunschte"). Both
# the text and the patterns are read with Latin diacritics folded to the bare letter, one character for one, so
# spans still point at the original text. Scandinavian å/ø/æ and ä/ö are folded too ("orker ikke a leve").
_FOLD = str.maketrans("ąćęłńóśźżáéíóúüñäöåøàèìòùâêîôûçëï", "acelnoszzaeiouunaoaoaeiouaeioucei")


_FOLDABLE = re.compile("[" + "".join(chr(code) for code in _FOLD) + "]")


def fold(text: str) -> str:
    """`text` with Latin diacritics removed, character for character (same length, same indices)."""
    # Most texts have none: one scan is cheaper than translating every character.
    return text.translate(_FOLD) if _FOLDABLE.search(text) is not None else text


_INTENT_SOURCES = [
    *(p for patterns in INTENT_PATTERNS.values() for p in patterns),
    *DOSE_PATTERNS,
    *FAREWELL_PATTERNS,
    *BURDEN_PATTERNS,
    *REFLEXIVE_PATTERNS,
    *FILLED_PATTERNS,
]
_INTENT_RE = compile_patterns([fold(p) for p in dict.fromkeys(_INTENT_SOURCES)])
_TOPIC_RE = compile_patterns([fold(p) for p in TOPIC_PATTERNS])
_PREVENTION_COMPOUND = re.compile(fold(PREVENTION_COMPOUND))
_PREVENTION_AFTER = re.compile(fold(PREVENTION_AFTER))
_PREVENTION_BEFORE = re.compile(fold(PREVENTION_BEFORE))


def find_self_harm(text: str, normalised: str | None = None) -> list[Match]:
    """Statements of suicidal intent (high) and mentions of suicide or self-harm (medium); `normalised` is
    `normalise(text)` where the caller already has it."""
    normalised = fold(normalise(text) if normalised is None else normalised)
    # Most texts match no rule: one search is cheaper than setting up an iteration.
    intent = [p for p in _INTENT_RE if p.search(normalised) is not None]
    matches = [Match(INTENT, _span(text, m)) for pattern in intent for m in pattern.finditer(normalised)]
    topic = [p for p in _TOPIC_RE if p.search(normalised) is not None]
    for m in (m for pattern in topic for m in pattern.finditer(normalised)):
        if not any(hit.span.start <= m.start() < hit.span.end for hit in matches) and not _prevention(normalised, m):
            matches.append(Match(TOPIC, _span(text, m)))
    return matches


def _prevention(folded: str, m: re.Match[str]) -> bool:
    """Whether the topic word names prevention work ("suicide prevention", "selvmordsforebygging"), not an event."""
    return (
        _PREVENTION_COMPOUND.search(m.group()) is not None
        or _PREVENTION_AFTER.match(folded, m.end()) is not None
        or _PREVENTION_BEFORE.search(folded, max(0, m.start() - 30), m.start()) is not None
    )


def _span(text: str, m: re.Match[str]) -> Span:
    return Span(m.start(), m.end(), text[m.start() : m.end()])
