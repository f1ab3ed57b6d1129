"""Resolves overlapping, contrasted and past-tense matches, and picks one language-comfort level."""

from __future__ import annotations

from bisect import bisect_left
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

    # Only a hit that overlaps can win, and one that overlaps starts less than the longest hit before.
    by_start = sorted(hits, key=lambda other: other.start)
    starts = [other.start for other in by_start]
    longest = max((other.end - other.start for other in hits), default=0)

    def near(hit: Hit) -> list[Hit]:
        return by_start[bisect_left(starts, hit.start - longest) : bisect_left(starts, hit.end)]

    return [hit for hit in hits if not any(loses(hit, other) for other in near(hit))]


def _drop_contrasted(hits: list[Hit]) -> list[Hit]:
    # "I was nervous at first but now I feel confident": a feeling after the contrast word wins
    # over an opposite feeling before it; facts (employability signals) neither win nor lose.
    last: dict[tuple[int, int], int] = {}  # (sentence, valence) → the last clause position of such a feeling
    for other in hits:
        if not is_fact(other.label):
            key = (other.clause.sentence, valence(other.label))
            last[key] = max(last.get(key, other.clause.position), other.clause.position)

    def overridden(hit: Hit) -> bool:
        if is_fact(hit.label) or valence(hit.label) == 0:
            return False
        opposite = last.get((hit.clause.sentence, -valence(hit.label)))
        return opposite is not None and opposite > hit.clause.position

    return [hit for hit in hits if not overridden(hit)]


def _drop_resolved_past(hits: list[Hit]) -> list[Hit]:
    # "Last month I felt lost and alone. Now ...": a negative state in a past-tense clause is
    # over when something positive follows it.
    positive = [other.start for other in hits if not is_fact(other.label) and valence(other.label) > 0]
    last_positive = max(positive, default=None)

    def over(hit: Hit) -> bool:
        if not hit.clause.past or valence(hit.label) >= 0:
            return False
        return last_positive is not None and last_positive >= hit.clause.end

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
