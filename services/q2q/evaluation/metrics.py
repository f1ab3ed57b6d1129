"""Scores a classifier on a labelled set: precision, recall and F1 per label, macro F1 and throughput.

The macro average is over labels that occur in the set or in the predictions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.q2q.domain.classifier import Classifier
from services.q2q.domain.taxonomy import LABELS, Label

EVAL_SET = Path(__file__).resolve().parent / "eval_set.jsonl"
_TIMING_ROUNDS = 5


@dataclass(frozen=True)
class Example:
    """One labelled text."""

    example_id: str
    text: str
    labels: frozenset[Label]


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

    @property
    def macro_f1(self) -> float:
        """Mean F1 over labels expected or predicted at least once."""
        used = [s for s in self.scores if s.support or s.false_positives]
        return sum(s.f1 for s in used) / len(used) if used else 0.0


def load_set(path: Path) -> list[Example]:
    """The examples of a JSON-lines file with `id`, `text` and `labels`."""
    examples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(Example(row["id"], row["text"], frozenset(Label(code) for code in row["labels"])))
    return examples


def evaluate(classifier: Classifier, examples: Sequence[Example]) -> Report:
    """Per-label counts, the misclassified texts and the throughput."""
    predicted = [frozenset(classifier.classify(e.text).labels) for e in examples]
    started = time.perf_counter()
    for _ in range(_TIMING_ROUNDS):
        for example in examples:
            classifier.classify(example.text)
    elapsed = max(time.perf_counter() - started, 1e-9)
    scores = tuple(_score(entry.label, examples, predicted) for entry in LABELS)
    errors = tuple((e.example_id, e.labels, p) for e, p in zip(examples, predicted, strict=True) if e.labels != p)
    return Report(scores, len(examples), _TIMING_ROUNDS * len(examples) / elapsed, errors)


def _score(label: Label, examples: Sequence[Example], predicted: Sequence[frozenset[Label]]) -> LabelScore:
    pairs = [(label in e.labels, label in p) for e, p in zip(examples, predicted, strict=True)]
    return LabelScore(
        label,
        sum(1 for expected, got in pairs if expected and got),
        sum(1 for expected, got in pairs if got and not expected),
        sum(1 for expected, got in pairs if expected and not got),
    )


def format_report(report: Report, *, show_errors: bool = False) -> str:
    """The per-label table, the macro F1 and the throughput as text."""
    lines = [f"{'label':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}", "-" * 61]
    for s in report.scores:
        lines.append(f"{s.label.value:<26}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>8.3f}{s.support:>9d}")
    lines += ["-" * 61, f"macro F1: {report.macro_f1:.3f}", f"texts: {report.texts}"]
    lines.append(f"throughput: {report.texts_per_second:.0f} texts/s")
    if show_errors:
        for example_id, expected, got in report.errors:
            lines.append(f"{example_id}: expected {sorted(expected)} got {sorted(got)}")
    return "\n".join(lines)
