"""Scores the classifier on the labelled evaluation set: `python -m services.q2q.evaluation [--set PATH]`.

Prints precision, recall and F1 per label, their macro average and the throughput in texts per second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.evaluation.metrics import EVAL_SET, evaluate, format_report, load_set


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.q2q.evaluation", description=__doc__)
    parser.add_argument("--set", type=Path, default=EVAL_SET, help="JSON-lines file of labelled texts")
    parser.add_argument("--errors", action="store_true", help="also list the texts whose labels differ")
    args = parser.parse_args(argv)
    report = evaluate(RuleBasedClassifier(), load_set(args.set))
    print(format_report(report, show_errors=args.errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
