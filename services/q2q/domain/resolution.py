"""Resolves overlapping, contrasted and past-tense matches, and picks one language-comfort level."""

from __future__ import annotations

from dataclasses import replace

from services.q2q.domain.matching import Hit
from services.q2q.domain.taxonomy import Category, Label, category_of

L = Label
_POSITIVE = frozenset({L.CONFIDENCE_INCREASE, L.BELONGING_INCREASE, L.LANGUAGE_COMFORT_HIGH})
_NEGATIVE = frozenset({L.CONFIDENCE_DECREASE, L.BELONGING_DECREASE, L.LANGUAGE_COMFORT_LOW})
_LEVELS = (L.LANGUAGE_COMFORT_LOW, L.LANGUAGE_COMFORT_MEDIUM, L.LANGUAGE_COMFORT_HIGH)


def is_fact(label: Label) -> bool:
    """Employability signals report what happened, not how the person feels."""
    return category_of(label) is Category.EMPLOYABILITY_SIGNAL


def valence(label: Label) -> int:
    """+1 for a change for the better, -1 for a risk or a decrease, 0 otherwise."""
    category = category_of(label)
    if label in _POSITIVE or category is Category.EMPLOYABILITY_SIGNAL:
        return 1
    if label in _NEGATIVE or category is Category.RISK_CUE:
        return -1
    return 0


def resolve(hits: list[Hit]) -> list[Hit]:
    """The hits that survive overlap, contrast and past-tense resolution, language merged to one level."""
    kept = _drop_overlapped(hits)
    kept = _drop_contrasted(kept)
    kept = _drop_resolved_past(kept)
    return _one_language_level(kept)


def _drop_overlapped(hits: list[Hit]) -> list[Hit]:
    # The most specific match wins: a match strictly inside a longer one of the same group is
    # dropped, and a rule may yield to an overlapping match of another label ("sent my CV" is a
    # job search, not CV work). Matches of different groups stack: one phrase may move two dimensions.
    def loses(hit: Hit, other: Hit) -> bool:
        if other is hit or other.end <= hit.start or hit.end <= other.start:
            return False
        if other.label in hit.rule.yields_to:
            return True
        longer = (other.end - other.start) > (hit.end - hit.start)
        inside = other.start <= hit.start and hit.end <= other.end and longer
        return inside and category_of(other.label) is category_of(hit.label)

    return [hit for hit in hits if not any(loses(hit, other) for other in hits)]


def _drop_contrasted(hits: list[Hit]) -> list[Hit]:
    # "I was nervous at first but now I feel confident": a feeling after the contrast word wins
    # over an opposite feeling before it; facts (employability signals) neither win nor lose.
    def overridden(hit: Hit) -> bool:
        if is_fact(hit.label) or valence(hit.label) == 0:
            return False
        return any(
            other.clause.sentence == hit.clause.sentence
            and other.clause.position > hit.clause.position
            and not is_fact(other.label)
            and valence(other.label) == -valence(hit.label)
            for other in hits
        )

    return [hit for hit in hits if not overridden(hit)]


def _drop_resolved_past(hits: list[Hit]) -> list[Hit]:
    # "Last month I felt lost and alone. Now ...": a negative state in a past-tense clause is
    # over when something positive follows it.
    def over(hit: Hit) -> bool:
        if not hit.clause.past or valence(hit.label) >= 0:
            return False
        return any(
            other.start >= hit.clause.end and not is_fact(other.label) and valence(other.label) > 0 for other in hits
        )

    return [hit for hit in hits if not over(hit)]


def _one_language_level(hits: list[Hit]) -> list[Hit]:
    language = [hit for hit in hits if hit.label in _LEVELS]
    if len({hit.label for hit in language}) <= 1:
        return hits
    level = merged_level([hit.label for hit in language])
    merged = [replace(hit, label=level, reason=f"mixed language signals ({hit.reason})") for hit in language]
    return sorted([hit for hit in hits if hit.label not in _LEVELS] + merged, key=lambda h: (h.start, h.end))


def merged_level(levels: list[Label]) -> Label:
    """Struggle next to any progress reads as medium; medium next to high follows the last signal."""
    if L.LANGUAGE_COMFORT_LOW in levels:
        return L.LANGUAGE_COMFORT_MEDIUM
    return levels[-1]
