"""Text preparation: a same-length normalised copy (so offsets map 1:1) and sentence/clause segments."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})
_SENTENCE_END = re.compile(r"[.!?;\n…]+")
# "yet" is left out: in "not confident yet" it is an adverb, not a contrast.
_CONTRAST = re.compile(r"\b(?:but|however|although|though|whereas)\b")
_PAST = re.compile(
    r"\b(?:at first|used to|in the beginning|at the beginning|initially|last (?:month|year|week)|"
    r"before the (?:programme|program|course)|when (?:i|we|he|she) (?:arrived|came|started))\b"
)


@dataclass(frozen=True)
class Clause:
    """A span of one sentence, cut at contrast words; `position` counts clauses within the sentence."""

    start: int
    end: int
    sentence: int
    position: int
    past: bool


def normalise(text: str) -> str:
    """Lower-cased text with uniform quotes, character for character the same length as the input."""
    lowered = text.lower()
    # Character by character when that differs: a character that lowers to several ("İ") stays as it is, and
    # a capital sigma lowers to the plain small sigma alone, where the whole text's lower() may write a final one.
    if len(lowered) != len(text) or "\u03a3" in text:
        lowered = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    return lowered.translate(_QUOTES)


def sentences(normalised: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank sentence."""
    spans, start = [], 0
    for end_mark in _SENTENCE_END.finditer(normalised):
        spans.append((start, end_mark.start()))
        start = end_mark.end()
    spans.append((start, len(normalised)))
    return [(s, e) for s, e in spans if normalised[s:e].strip()]


def clauses(normalised: str) -> list[Clause]:
    """Every clause of every sentence, in text order."""
    out: list[Clause] = []
    for index, (start, end) in enumerate(sentences(normalised)):
        cuts = [m.start() for m in _CONTRAST.finditer(normalised, start, end)]
        bounds = [start, *[c for c in cuts if c > start], end]
        for position, (left, right) in enumerate(itertools.pairwise(bounds)):
            past = _PAST.search(normalised, left, right) is not None
            out.append(Clause(left, right, index, position, past))
    return out


def clause_at(all_clauses: list[Clause], offset: int) -> Clause:
    """The clause containing `offset`."""
    for clause in all_clauses:
        if clause.start <= offset < clause.end:
            return clause
    return all_clauses[-1]
