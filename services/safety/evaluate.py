"""Scores the screening engine on a labelled set: `python -m services.safety.evaluate [--set NAME|PATH]`.

NAME is one of the shipped sets (test, dev, heldout, heldout_v2, heldout_v3, heldout_v4; services/safety/data/README.md
says what each is for); anything else is read as the path of a JSON-lines file.

Each line of the set names the finding type a text must produce (`self_harm`, `toxic`, `spam`,
`profanity`, `pii` with its subtype) or `clean` (no finding at all). Prints recall per type, per
type and language, per PII subtype, false alarms on the clean texts, and throughput.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.safety.domain import classifier
from services.safety.domain.screening import Screening, screen

DATA = Path(__file__).resolve().parent / "data"
TEST_SET = DATA / "test.jsonl"
# The first held-out split; scored once, its misses then known, it is now a development set.
HELDOUT_SET = DATA / "heldout.jsonl"
# The second held-out split: scored once with the rules of its round, never used to choose a rule or train.
HELDOUT_V2_SET = DATA / "heldout_v2.jsonl"
# The third held-out split: written by another hand before the classifier was trained, scored once with it.
HELDOUT_V3_SET = DATA / "heldout_v3.jsonl"
# The current held-out test split: written by another hand before the classifier learnt toxic language, never
# used to choose a rule, train or set a threshold.
HELDOUT_V4_SET = DATA / "heldout_v4.jsonl"
SETS = {
    "test": TEST_SET,
    "dev": DATA / "dev.jsonl",
    "heldout": HELDOUT_SET,
    "heldout_v2": HELDOUT_V2_SET,
    "heldout_v3": HELDOUT_V3_SET,
    "heldout_v4": HELDOUT_V4_SET,
}
CLEAN = "clean"


@dataclass(frozen=True)
class Case:
    """One labelled text."""

    case_id: str
    language: str
    text: str
    expected: str
    subtype: str


@dataclass(frozen=True)
class Report:
    """Hits and totals per group, the clean texts that raised a finding, and throughput."""

    hits: dict[str, tuple[int, int]]
    false_alarms: tuple[str, ...]
    clean_total: int
    texts_per_second: float


def load(path: Path) -> list[Case]:
    """The cases of a JSON-lines file; a line without the required keys is an error naming it."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            cases.append(Case(row["id"], row["language"], row["text"], row["expected"], row.get("subtype", "")))
        except KeyError as missing:
            raise ValueError(f"{path}:{number}: missing key {missing}") from None
    return cases


def found(case: Case, screening: Screening) -> bool:
    """Whether the screening found what the case expects (for clean texts: nothing at all)."""
    if case.expected == CLEAN:
        return not screening.findings
    return any(
        f.type.value == case.expected and (not case.subtype or f.subtype == case.subtype) for f in screening.findings
    )


def evaluate(cases: Sequence[Case], *, rounds: int = 20, classify: bool = True) -> Report:
    """Recall per type, type and language, and PII subtype; false alarms on clean texts; texts per second.
    `classify=False` scores the rules alone."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    alarms = []
    for case in cases:
        ok = found(case, screen(case.text, classify=classify))
        if case.expected == CLEAN:
            if not ok:
                alarms.append(case.case_id)
            continue
        keys = [case.expected, f"{case.expected}/{case.language}"]
        keys += [f"pii:{case.subtype}"] if case.expected == "pii" else []
        for key in keys:
            counts[key][0] += ok
            counts[key][1] += 1
    # CPU time of this process: the figure is per core, whatever else the machine runs.
    started = time.process_time()
    for _ in range(rounds):
        for case in cases:
            screen(case.text, classify=classify)
    elapsed = time.process_time() - started
    rate = rounds * len(cases) / elapsed if elapsed else 0.0
    clean_total = sum(c.expected == CLEAN for c in cases)
    return Report({k: (v[0], v[1]) for k, v in sorted(counts.items())}, tuple(alarms), clean_total, rate)


def format_report(report: Report) -> str:
    """The report as text."""
    lines = [f"{'group':<22} {'found':>5} {'of':>4} {'recall':>7}"]
    for key, (hit, total) in report.hits.items():
        lines.append(f"{key:<22} {hit:>5} {total:>4} {hit / total:>7.3f}")
    lines.append(
        f"false alarms on clean texts: {len(report.false_alarms)} of {report.clean_total} {report.false_alarms}"
    )
    lines.append(f"throughput: {report.texts_per_second:,.0f} texts per CPU-second (one text at a time)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.safety.evaluate", description=__doc__)
    parser.add_argument(
        "--set",
        default="test",
        help=f"a shipped set ({', '.join(SETS)}; held-out test split: heldout_v4) or a JSON-lines file",
    )
    parser.add_argument("--rules-only", action="store_true", help="leave the trained classifier out")
    args = parser.parse_args(argv)
    version = "none (rules only)" if args.rules_only else classifier.shipped()[0].model_version
    print(f"classifier: {version}")
    print(format_report(evaluate(load(resolve_set(args.set)), classify=not args.rules_only)))
    return 0


def resolve_set(name: str) -> Path:
    """The file of a shipped set named `name`, or `name` read as a path."""
    return SETS.get(name, Path(name))


if __name__ == "__main__":
    sys.exit(main())
