"""The trained classifier: the linear model decides which labels a text carries, rules correct it where they are better.

How the two combine (docs/q2q/model-card.md):
1. Negation scope is a rule inside the features (features.py): the model learns what a negated word means.
2. The model's probability per label against the label's threshold (chosen on validation) gives the labels.
3. "Used to … now" (structure.change_span): the clause of the earlier state and the rest of the text are scored
   on their own; a label the rest does not carry, and the earlier clause carries more of (or the rest carries less
   than half its threshold of), is over (the earlier part alone may stay below the threshold while the whole text
   reaches it: "I was shy, but now …").
   A confidence or belonging decrease, isolation or a low language level that is over becomes the change for
   the better (increase, or medium language); other feelings that are over are dropped; facts (employability
   signals) stay, and so do the changes for the better (increases, medium or high language) unless the rest
   carries a feeling for the worse ("I used to be confident, now I'm afraid to speak").
4. Whose feeling (structure.own_feeling_clauses): anxiety found only in the writer's own worry about
   someone ("I'm a bit worried about her") is not the participant's and is dropped. What is not understood
   (structure.language_clauses): confusion found only where the writer does not understand the language or what
   people say is a low language level instead.
5. At most one language level, and one direction per dimension: the label furthest above its threshold.
Evidence: per label, the words whose features moved the label's score most (with their negator).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.q2q.domain import structure
from services.q2q.domain.artifact import MODEL_DIR, load
from services.q2q.domain.classifier import Classification, Evidence, Method
from services.q2q.domain.features import Token, is_negator
from services.q2q.domain.linear_model import FloatArray, LinearModel, vectorise
from services.q2q.domain.taxonomy import LABELS, Category, Label, category_of

L = Label
_ORDER = tuple(entry.label for entry in LABELS)
_OVER = {L.CONFIDENCE_DECREASE: L.CONFIDENCE_INCREASE, L.BELONGING_DECREASE: L.BELONGING_INCREASE,
         L.ISOLATION: L.BELONGING_INCREASE, L.LANGUAGE_COMFORT_LOW: L.LANGUAGE_COMFORT_MEDIUM}  # fmt: skip
_PAIRS = ((L.CONFIDENCE_INCREASE, L.CONFIDENCE_DECREASE), (L.BELONGING_INCREASE, L.BELONGING_DECREASE))
_LEVELS = (L.LANGUAGE_COMFORT_LOW, L.LANGUAGE_COMFORT_MEDIUM, L.LANGUAGE_COMFORT_HIGH)
# The changes for the better: a "used to … now" text states them as a whole, so the model may find them in the
# earlier part alone ("I used to be so shy" reads as a change); they are never a state that is over.
_BETTER = frozenset({*_OVER.values(), L.LANGUAGE_COMFORT_HIGH})
_INDEX = {label: j for j, label in enumerate(_ORDER)}
_RISKS = frozenset(label for label in _ORDER if category_of(label) is Category.RISK_CUE)
_SPAN_WORDS, _SPAN_SHARE = 5, 0.3
# How far towards its threshold the earlier clause must lean to either direction to be about that dimension.
_ABOUT = 0.3
_BATCH = 256
# A change and the model's reading of its earlier clause, the rest, the present and what lies outside both.
_Change = tuple[structure.Change, FloatArray, FloatArray, FloatArray, FloatArray]


class TrainedClassifier:
    """Labels from the shipped linear model, corrected by the structure rules; deterministic, no network."""

    def __init__(self, model: LinearModel, *, version: str) -> None:
        self._model = model
        self._version = version

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> TrainedClassifier:
        """The classifier of the model in `directory` (hashes checked, no pickle)."""
        manifest, model = load(directory)
        return cls(model, version=manifest.model_version)

    @property
    def method(self) -> Method:
        """Always the trained classifier."""
        return Method.AI_CLASSIFIER

    @property
    def model_version(self) -> str:
        """The model's version, stored with every score."""
        return self._version

    def classify(self, text: str) -> Classification:
        """Labels, confidences and evidence for `text`."""
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """One classification per text; the model scores the texts in batches."""
        out: list[Classification] = []
        thresholds = self._model.thresholds
        for first in range(0, len(texts), _BATCH):
            chunk = texts[first : first + _BATCH]
            rows = vectorise(chunk, self._model.vocabulary)
            probabilities = self._model.probabilities_of(rows)
            moved = self._model.contributions(rows)
            # The per-text decisions read Python numbers taken from the whole chunk's arrays at once.
            above = (probabilities >= thresholds).tolist()
            margins = (probabilities - thresholds).tolist()
            values = probabilities.tolist()
            changes = self._changes(chunk)
            for i, text in enumerate(chunk):
                out.append(
                    self._decide(
                        text, rows.words[i], moved[i], changes[i], above=above[i], margins=margins[i], values=values[i]
                    )
                )
        return out

    def _changes(self, chunk: Sequence[str]) -> list[_Change | None]:
        """Per text, its "used to … now" change and the model's reading of its parts (the earlier clause, the text
        without it, the present, the text without both), scored for the whole chunk at once."""
        found = [structure.find_change(text) for text in chunk]
        parts: list[str] = []
        for text, change in zip(chunk, found, strict=True):
            if change is not None:
                spans = [change.earlier, change.present]
                parts += [text[slice(*change.earlier)], structure.without(text, spans[:1]),
                          text[slice(*change.present)], structure.without(text, spans)]  # fmt: skip
        scored = iter(self._model.probabilities(parts))
        return [None if change is None else (change, *(next(scored) for _ in range(4))) for change in found]

    def _decide(
        self,
        text: str,
        words: list[Token],
        moved: FloatArray,
        change: _Change | None,
        *,
        above: list[bool],
        margins: list[float],
        values: list[float],
    ) -> Classification:
        found = {label for label, hit in zip(_ORDER, above, strict=True) if hit}
        reasons: dict[Label, tuple[str, tuple[int, int]]] = {}
        if change is not None:
            found = self._apply_change(text, words, found, reasons, change)
        if found:
            found = self._apply_ownership(text, found)
            found = _one_per_dimension(found, dict(zip(_ORDER, margins, strict=True)))
        labels = tuple(label for label in _ORDER if label in found)
        confidence = {label: round(values[_INDEX[label]], 3) for label in labels}
        evidence = tuple(self._evidence(text, label, words, moved, reasons.get(label)) for label in labels)
        return Classification(labels, confidence, evidence, self.method, self._version)

    def _labels_of(self, text: str) -> set[Label]:
        return self._labels_above(self._model.probabilities([text])[0])

    def _labels_above(self, row: FloatArray) -> set[Label]:
        return {label for j, label in enumerate(_ORDER) if row[j] >= self._model.thresholds[j]}

    def _apply_change(
        self,
        text: str,
        words: list[Token],
        found: set[Label],
        reasons: dict[Label, tuple[str, tuple[int, int]]],
        scored: _Change,
    ) -> set[Label]:
        change, earlier, rest, changed, outside = scored
        thresholds = self._model.thresholds
        # The rest of the text dilutes the present sentence: a label either of them carries is still there.
        present = np.maximum(rest, changed)
        after = self._labels_above(present)
        # A state the earlier clause carries is over even when the whole text stays below its threshold
        # ("Раніше я боялася говорити, але тепер ставлю питання": the present dilutes the fear).
        # Not when the present names a risk more strongly ("I didn't feel confident before, now I feel scared").
        risk = max((changed[j] / thresholds[j] for j, label in enumerate(_ORDER) if label in _RISKS), default=0.0)
        candidates = found | {
            label
            for label in _OVER
            if earlier[_INDEX[label]] >= thresholds[_INDEX[label]]
            and earlier[_INDEX[label]] / thresholds[_INDEX[label]] > risk
        }
        kept = set(found)
        for label in candidates - after:
            if category_of(label) is Category.EMPLOYABILITY_SIGNAL:
                continue
            j = _INDEX[label]
            if label in _BETTER:
                # "I used to be confident, but now I'm afraid to speak": the earlier good state is over when the
                # sentence of the present carries a feeling for the worse.
                if _worse(self._labels_above(changed)) and earlier[j] > present[j]:
                    kept.discard(label)
                continue
            # Over: the present part carries clearly less of it than the threshold, or less than the earlier part.
            if earlier[j] <= present[j] and present[j] >= thresholds[j] / 2:
                continue
            kept.discard(label)
            better = _OVER.get(label)
            if better is not None and not (better in _LEVELS and after & set(_LEVELS)):
                kept.add(better)
                reasons[better] = (f"used to … now: the earlier {label.value} is over", (0, len(text)))
        negated, repeated = structure.negation_contrast(words, change)
        return self._change_direction(kept, (earlier, changed, outside), negated=negated, repeated=repeated)

    def _change_direction(
        self, kept: set[Label], parts: tuple[FloatArray, FloatArray, FloatArray], *, negated: bool, repeated: bool
    ) -> set[Label]:
        """The direction of confidence and belonging a change states.

        A direction the text states outside the change stays ("… тепер розумію все. Я боюся помилитися" keeps the
        decrease). A present that affirms what the earlier clause negated is a change for the better: when it
        repeats the negated word ("Før turte jeg ikke å spørre, men nå spør jeg"), or when the marker's own clause
        is negated and about this dimension and the present names no risk ("Nå tør jeg å snakke; før turte jeg
        aldri", not "At first I did not dare, now I am scared all the time"): the model reads verbs negated after
        them ("tør ikke", "vågade aldrig") poorly, and may read the risk into the present. Otherwise the
        sentence of the present, which may state the direction alone ("… men nu siger jeg min mening"), decides
        when it leans either way by at least half a threshold ("Kiedyś byłam pewna siebie, ale teraz boję się
        odezwać" is a decrease).
        """
        thresholds = self._model.thresholds
        earlier, changed, outside = parts
        stated = kept | self._labels_above(changed)
        risk = _risk(self._labels_above(changed))
        for up, down in _PAIRS:
            if not {up, down} & stated:
                continue
            if any(outside[_INDEX[label]] >= thresholds[_INDEX[label]] for label in (up, down)):
                continue
            about = max(earlier[_INDEX[label]] / thresholds[_INDEX[label]] for label in (up, down)) >= _ABOUT
            if repeated or (negated and about and not risk):
                kept = (kept - {up, down}) | {up}
                continue
            lean = {label: changed[_INDEX[label]] / thresholds[_INDEX[label]] for label in (up, down)}
            if max(lean.values()) >= 0.5:
                kept = (kept - {up, down}) | {max((up, down), key=lean.__getitem__)}
        return kept

    def _apply_ownership(self, text: str, found: set[Label]) -> set[Label]:
        found = self._apply_language_object(text, found)
        if L.ANXIETY not in found:
            return found
        own = structure.own_feeling_clauses(text)
        if own and L.ANXIETY not in self._labels_of(structure.without(text, own)):
            return found - {L.ANXIETY}
        return found

    def _apply_language_object(self, text: str, found: set[Label]) -> set[Label]:
        # "I don't get what the teacher tells me": not understanding speech is a low language level; confusion
        # found only there is dropped, and the low level stands in for it when no level was found.
        if L.CONFUSION not in found:
            return found
        spans = structure.language_clauses(text)
        if not spans or L.CONFUSION in self._labels_of(structure.without(text, spans)):
            return found
        kept = found - {L.CONFUSION}
        return kept if kept & set(_LEVELS) else kept | {L.LANGUAGE_COMFORT_LOW}

    def _evidence(
        self, text: str, label: Label, words: list[Token], moved: FloatArray, reason: tuple[str, tuple[int, int]] | None
    ) -> Evidence:
        if reason is not None:
            start, end = reason[1]
            return Evidence(label, text[start:end], start, end, reason[0])
        if not words:
            return Evidence(label, text, 0, len(text), f"{self._version}: the text as a whole")
        start, end = _span(words, moved[:, _INDEX[label]].tolist())
        return Evidence(
            label, text[start:end], start, end, f"{self._version}: the words weighing most for {label.value}"
        )


def _span(words: list[Token], scores: list[float]) -> tuple[int, int]:
    """The words around the strongest one that also pushed the label, in one clause, with their negator."""
    best = max(range(len(scores)), key=scores.__getitem__)
    floor, clause = scores[best] * _SPAN_SHARE, words[best].clause
    left = right = best
    while right - left + 1 < _SPAN_WORDS:
        grow_left = left > 0 and words[left - 1].clause == clause and scores[left - 1] >= floor
        grow_right = right + 1 < len(words) and words[right + 1].clause == clause and scores[right + 1] >= floor
        if not (grow_left or grow_right):
            break
        left, right = (left - 1, right) if grow_left else (left, right + 1)
    if words[left].negated:
        while left > 0 and words[left - 1].clause == clause and not is_negator(words[left].norm):
            left -= 1
    return words[left].start, words[right].end


def _risk(labels: set[Label]) -> bool:
    return any(category_of(label) is Category.RISK_CUE for label in labels)


def _worse(labels: set[Label]) -> bool:
    return any(label in _OVER or category_of(label) is Category.RISK_CUE for label in labels)


def _one_per_dimension(found: set[Label], margins: dict[Label, float]) -> set[Label]:
    kept = set(found)
    for pair in (*_PAIRS, _LEVELS):
        present = [label for label in pair if label in kept]
        for label in present:
            if label is not max(present, key=margins.__getitem__):
                kept.discard(label)
    return kept
