"""Scores a Q2Q classifier on a labelled set: `python -m services.q2q.evaluation [--set NAME|PATH] [--classifier …]`.

Prints precision, recall and F1 per label and per language, macro and micro averages, the confusion of the
increase/decrease pairs and the batch throughput on one core. Sets: `test` (the held-out split, the
default), `validation`, `holdout` and `eval` (the rules' English sets), or a JSON-lines path.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from services.q2q.domain.classifier import Classifier, RuleBasedClassifier
from services.q2q.domain.trained_classifier import TrainedClassifier
from services.q2q.evaluation.metrics import EVAL_SET, HOLDOUT_SET, TEST_SET, VALIDATION_SET, evaluate, load_set
from services.q2q.evaluation.report import format_report

SETS = {"test": TEST_SET, "validation": VALIDATION_SET, "holdout": HOLDOUT_SET, "eval": EVAL_SET}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.q2q.evaluation", description=__doc__)
    parser.add_argument("--set", default="test", help="test, validation, holdout, eval, or a JSON-lines file")
    parser.add_argument("--classifier", choices=("trained", "rules"), default="trained")
    parser.add_argument("--errors", action="store_true", help="also list the texts whose labels differ")
    args = parser.parse_args(argv)
    classifier: Classifier = TrainedClassifier.load() if args.classifier == "trained" else RuleBasedClassifier()
    path = SETS.get(args.set, Path(args.set))
    report = evaluate(classifier, load_set(path))
    print(f"classifier: {classifier.method.value} {classifier.model_version}; set: {path.name}")
    print(format_report(report, show_errors=args.errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
