"""Scores a classifier on a labelled set: precision, recall and F1 per label, per language and per hard-case
tag, macro and micro averages, the confusion of the increase/decrease pairs, and batch throughput on one core.

The macro average is over labels that occur in the set or in the predictions.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.q2q.domain.classifier import Classifier
from services.q2q.domain.taxonomy import LABELS, Label

EVAL_SET = Path(__file__).resolve().parent / "eval_set.jsonl"
HOLDOUT_SET = Path(__file__).resolve().parent / "holdout_set.jsonl"
TEST_SET = Path(__file__).resolve().parents[1] / "data" / "test.jsonl"
VALIDATION_SET = Path(__file__).resolve().parents[1] / "data" / "validation.jsonl"
_TIMING_ROUNDS = 5
DIRECTIONS = (
    ("confidence", Label.CONFIDENCE_INCREASE, Label.CONFIDENCE_DECREASE),
    ("belonging", Label.BELONGING_INCREASE, Label.BELONGING_DECREASE),
)
# The tags with targets of their own: no direction flip on "used to ... now", and a volunteer's own feelings
# never scored as the participant's anxiety.
TAGS = ("used_to_now", "volunteer_own_feeling")


@dataclass(frozen=True)
class TagFigures:
    """What the classifier does on the texts of one tag."""

    tag: str
    texts: int
    flips: int  # (text, dimension) pairs whose one expected direction was read as the other
    both: int  # (text, dimension) pairs with one direction expected and both predicted
    anxiety_expected: int  # texts whose labels include anxiety
    anxiety_wrong: int  # texts scored as anxiety whose labels do not include it
    micro_f1: float


@dataclass(frozen=True)
class Example:
    """One labelled text."""

    example_id: str
    text: str
    labels: frozenset[Label]
    lang: str = "en"
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class LabelScore:
    """Counts and scores of one label."""

    label: Label
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Share of predictions that were right."""
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 0.0

    @property
    def recall(self) -> float:
        """Share of expected labels that were found."""
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def support(self) -> int:
        """How many texts carry the label."""
        return self.true_positives + self.false_negatives


@dataclass(frozen=True)
class Report:
    """The outcome of one evaluation run."""

    scores: tuple[LabelScore, ...]
    texts: int
    texts_per_second: float
    errors: tuple[tuple[str, frozenset[Label], frozenset[Label]], ...]
    examples: tuple[Example, ...] = ()
    predicted: tuple[frozenset[Label], ...] = ()

    @property
    def macro_f1(self) -> float:
        """Mean F1 over labels expected or predicted at least once."""
        used = [s for s in self.scores if s.support or s.false_positives]
        return sum(s.f1 for s in used) / len(used) if used else 0.0

    @property
    def micro(self) -> LabelScore:
        """Counts summed over all labels (its precision, recall and F1 are the micro averages)."""
        total = [sum(getattr(s, name) for s in self.scores) for name in ("true_positives", "false_positives")]
        missed = sum(s.false_negatives for s in self.scores)
        return LabelScore(Label.CONFIDENCE_INCREASE, total[0], total[1], missed)

    def languages(self) -> dict[str, Report]:
        """The report restricted to each language of the set, in order of first appearance."""
        out: dict[str, Report] = {}
        for lang in dict.fromkeys(e.lang for e in self.examples):
            pairs = [(e, p) for e, p in zip(self.examples, self.predicted, strict=True) if e.lang == lang]
            examples, predicted = [e for e, _ in pairs], [p for _, p in pairs]
            out[lang] = _report(examples, predicted, self.texts_per_second)
        return out

    def tag_figures(self, tag: str) -> TagFigures:
        """Flips, anxiety scored where it is not expected, and micro F1 on the texts carrying `tag`."""
        pairs = [(e, p) for e, p in zip(self.examples, self.predicted, strict=True) if tag in e.tags]
        moves = [
            (_direction(e.labels, up, down), _direction(p, up, down)) for e, p in pairs for _, up, down in DIRECTIONS
        ]
        part = _report([e for e, _ in pairs], [p for _, p in pairs], self.texts_per_second)
        return TagFigures(
            tag,
            len(pairs),
            sum(1 for move in moves if move in {("increase", "decrease"), ("decrease", "increase")}),
            sum(1 for expected, got in moves if expected in {"increase", "decrease"} and got == "both"),
            sum(1 for e, _ in pairs if Label.ANXIETY in e.labels),
            sum(1 for e, p in pairs if Label.ANXIETY in p and Label.ANXIETY not in e.labels),
            part.micro.f1,
        )

    def direction_confusion(self, dimension: str) -> dict[tuple[str, str], int]:
        """(expected, predicted) counts over increase / decrease / none of one dimension."""
        _, up, down = next(d for d in DIRECTIONS if d[0] == dimension)
        counts: dict[tuple[str, str], int] = {}
        for example, predicted in zip(self.examples, self.predicted, strict=True):
            key = (_direction(example.labels, up, down), _direction(predicted, up, down))
            counts[key] = counts.get(key, 0) + 1
        return counts


def _direction(labels: frozenset[Label], up: Label, down: Label) -> str:
    if up in labels and down in labels:
        return "both"
    return "increase" if up in labels else "decrease" if down in labels else "none"


def load_set(path: Path) -> list[Example]:
    """The examples of a JSON-lines file with `id`, `text` and `labels`."""
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels = frozenset(Label(code) for code in row["labels"])
            examples.append(Example(row["id"], row["text"], labels, row.get("lang", "en"), tuple(row.get("tags", ()))))
    return examples


def evaluate(classifier: Classifier, examples: Sequence[Example]) -> Report:
    """Per-label counts, the misclassified texts and the throughput (batches when the classifier has them)."""
    predicted = _predict(classifier, [e.text for e in examples])
    with _one_core():
        # CPU seconds of this process, not wall time: on a shared machine other processes' load would
        # otherwise count against the classifier. Pinned to one core, this is texts per second per core.
        started = time.process_time()
        for _ in range(_TIMING_ROUNDS):
            _predict(classifier, [e.text for e in examples])
        elapsed = max(time.process_time() - started, 1e-9)
    return _report(list(examples), predicted, _TIMING_ROUNDS * len(examples) / elapsed)


def _report(examples: list[Example], predicted: list[frozenset[Label]], speed: float) -> Report:
    scores = tuple(_score(entry.label, examples, predicted) for entry in LABELS)
    errors = tuple((e.example_id, e.labels, p) for e, p in zip(examples, predicted, strict=True) if e.labels != p)
    return Report(scores, len(examples), speed, errors, tuple(examples), tuple(predicted))


def _predict(classifier: Classifier, texts: list[str]) -> list[frozenset[Label]]:
    batch = getattr(classifier, "classify_batch", None)
    results = batch(texts) if batch is not None else [classifier.classify(text) for text in texts]
    return [frozenset(result.labels) for result in results]


class _one_core:  # noqa: N801 - used as a context manager, named like one
    """Pins the process to one CPU while timing, so the figure is texts per second per core."""

    def __enter__(self) -> None:
        self._saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        if self._saved:
            os.sched_setaffinity(0, {min(self._saved)})

    def __exit__(self, *_: object) -> None:
        if self._saved:
            os.sched_setaffinity(0, self._saved)


def _score(label: Label, examples: Sequence[Example], predicted: Sequence[frozenset[Label]]) -> LabelScore:
    pairs = [(label in e.labels, label in p) for e, p in zip(examples, predicted, strict=True)]
    return LabelScore(
        label,
        sum(1 for expected, got in pairs if expected and got),
        sum(1 for expected, got in pairs if got and not expected),
        sum(1 for expected, got in pairs if expected and not got),
    )
