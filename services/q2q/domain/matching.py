"""Finds rule matches in a text and applies negation and intensity to each one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.q2q.domain.rules import Rule
from services.q2q.domain.taxonomy import Label
from services.q2q.domain.text import Clause, clause_at

NEGATION_WINDOW = 4
_WORD = re.compile(r"[\w']+")
_COMMA = re.compile(r"[,:]")
# Characters before a match read for its negation window (more only when they hold fewer words than it).
_TAIL = 200
_NEGATORS = frozenset(
    {"not", "no", "never", "cannot", "without", "hardly", "barely", "nobody", "dont", "didnt", "doesnt",
     "isnt", "wasnt", "arent", "werent", "cant", "couldnt", "wont", "havent", "hasnt"}
)  # fmt: skip
# "never felt so welcome", "not only": negation words that intensify instead.
_NOT_A_NEGATION = re.compile(r"\b(?:never\s+(?:\w+\s+)?(?:so|more|this)|not\s+(?:only|just))\b")
_SCOPE_BREAKERS = frozenset({"about", "because", "and", "that", "when", "if", "for", "with", "since"})
_OVER = re.compile(r"\b(?:anymore|any more|no longer)\b")
_INTENSIFIERS = frozenset({"very", "really", "so", "extremely", "super", "totally", "completely", "much", "deeply"})
_HEDGES = frozenset({"bit", "little", "slightly", "somewhat", "kinda", "maybe", "perhaps", "guess"})
_BOOST, _DAMPEN, _CAP = 1.15, 0.8, 0.95


@dataclass(frozen=True)
class Hit:
    """One rule match after negation, with its own weight and the reason it was kept."""

    label: Label
    start: int
    end: int
    weight: float
    reason: str
    rule: Rule
    clause: Clause


def find_hits(normalised: str, rules: Iterable[Rule], clauses: list[Clause]) -> list[Hit]:
    """Every match of every rule, sentence by sentence, negation applied."""
    hits: list[Hit] = []
    sentence_spans = sorted({(c.sentence, c.start, c.end) for c in clauses})
    bounds = _sentence_bounds(sentence_spans)
    for rule in rules:
        for start, end in bounds:
            for match in rule.regex.finditer(normalised, start, end):
                hit = _apply_context(normalised, rule, match.start(), match.end(), clauses)
                if hit is not None:
                    hits.append(hit)
    return sorted(hits, key=lambda h: (h.start, h.end, h.label))


def _sentence_bounds(spans: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    by_sentence: dict[int, tuple[int, int]] = {}
    for sentence, start, end in spans:
        first, last = by_sentence.get(sentence, (start, end))
        by_sentence[sentence] = (min(first, start), max(last, end))
    return sorted(by_sentence.values())


def _apply_context(normalised: str, rule: Rule, start: int, end: int, clauses: list[Clause]) -> Hit | None:
    clause = clause_at(clauses, start)
    before = _window_before(normalised, clause.start, start)
    weight = _intensity(before, normalised[start:end], rule.weight)
    if not rule.negatable or not _negated(before, normalised[start:end]):
        return Hit(rule.label, start, end, weight, rule.reason, rule, clause)
    over = _OVER.search(normalised, clause.start, clause.end) is not None
    label = rule.label_when_negated(resolved=over)
    if label is None:
        return None
    state = "no longer" if over and rule.resolved is not None else "negated"
    return Hit(label, start, end, weight, f"{state}: {rule.reason}", rule, clause)


def _window_before(normalised: str, clause_start: int, start: int) -> list[str]:
    # The last words are read from the characters just before the match: the same words as from the whole
    # clause when those hold a comma or more words than the window (the first may be cut), else the clause.
    tail_start = max(clause_start, start - _TAIL)
    # Negation does not reach across a comma or colon ("no, I feel confident").
    parts = _COMMA.split(normalised[tail_start:start])
    words = _WORD.findall(parts[-1])
    if len(parts) > 1 or tail_start == clause_start or len(words) > NEGATION_WINDOW:
        return words[-NEGATION_WINDOW:]
    prefix = _COMMA.split(normalised[clause_start:start])[-1]
    return _WORD.findall(prefix)[-NEGATION_WINDOW:]


def _negated(before: list[str], matched: str) -> bool:
    if _NOT_A_NEGATION.search(" ".join([*before, matched])):
        return False
    negators = [i for i, word in enumerate(before) if word.replace("'", "") in _NEGATORS or word.endswith("n't")]
    if not negators:
        return False
    # "not worried about the interview": the negation stays with its own phrase.
    return not _SCOPE_BREAKERS.intersection(before[negators[-1] + 1 :])


def _intensity(before: list[str], matched: str, weight: float) -> float:
    words = set(before[-2:]) | set(_WORD.findall(matched))
    if words & _INTENSIFIERS:
        weight *= _BOOST
    if words & _HEDGES:
        weight *= _DAMPEN
    return round(min(weight, _CAP), 3)
