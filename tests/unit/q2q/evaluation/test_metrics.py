"""The evaluation set is valid, the shipped rules score well on it, and the counts are right."""

from __future__ import annotations

import json
from pathlib import Path

from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.domain.taxonomy import LABELS
from services.q2q.evaluation import metrics


def test_the_evaluation_set_is_large_and_valid() -> None:
    examples = metrics.load_set(metrics.EVAL_SET)
    assert len(examples) >= 150
    assert len({e.example_id for e in examples}) == len(examples)
    assert {label for e in examples for label in e.labels} == {entry.label for entry in LABELS}


def test_macro_f1_on_the_shipped_set_is_at_least_0_8() -> None:
    report = metrics.evaluate(RuleBasedClassifier(), metrics.load_set(metrics.EVAL_SET))
    assert report.macro_f1 >= 0.8


def test_scores_count_true_and_false_positives(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    rows = [
        {"id": "a", "text": "I feel so lonely.", "labels": ["isolation"]},
        {"id": "b", "text": "I feel so lonely.", "labels": ["anxiety"]},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    report = metrics.evaluate(RuleBasedClassifier(), metrics.load_set(path))
    by_label = {s.label.value: s for s in report.scores}
    assert (by_label["isolation"].true_positives, by_label["isolation"].false_positives) == (1, 1)
    assert by_label["anxiety"].false_negatives == 1
    assert [error[0] for error in report.errors] == ["b"]
