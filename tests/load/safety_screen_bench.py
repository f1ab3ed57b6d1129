"""Screening throughput: `python -m tests.load.safety_screen_bench [--against DIR]` screens every text of the
labelled sets in services/safety/data/ one at a time, as the service's handlers do, and prints texts per
CPU-second of this process (one core). `--against DIR` measures the same texts with the `services` package
found in DIR (e.g. an older commit: `git archive <commit> services | tar -x -C DIR`), in a child process,
alternating with this tree so that both see the same machine load, and prints the ratio."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from services.safety.domain.screening import screen
from services.safety.evaluate import SETS


def texts() -> list[str]:
    """Every text of every labelled evaluation set in the data folder (not the training corpus)."""
    return [
        json.loads(line)["text"]
        for path in sorted(SETS.values())
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def measure(corpus: list[str], seconds: float) -> float:
    """Texts screened per CPU-second, screening the corpus over and over for about `seconds` of CPU time."""
    for text in corpus:  # warm-up: patterns compiled, caches filled
        screen(text)
    done, started = 0, time.process_time()
    while (elapsed := time.process_time() - started) < seconds:
        for text in corpus:
            screen(text)
        done += len(corpus)
    return done / elapsed


_CHILD = (
    "import json, sys\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"  # that tree's `services` first, this tree's `tests` next
    "from tests.load.safety_screen_bench import measure\n"
    "print(measure(json.loads(sys.stdin.read()), float(sys.argv[3])))\n"
)


def _child(root: Path, seconds: float) -> float:
    """Texts per CPU-second with the `services` package of `root`, measured in a fresh process."""
    here = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), str(here), str(seconds)],
        input=json.dumps(texts()),
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tests.load.safety_screen_bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per tree (the best one counts)")
    parser.add_argument("--against", type=Path, help="a folder holding another `services` package to compare with")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parents[2]
    corpus = texts()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds):
        ours.append(_child(here, args.seconds))
        if args.against:
            theirs.append(_child(args.against.resolve(), args.seconds))
    print(f"texts: {len(corpus)}, mean length {sum(map(len, corpus)) / len(corpus):.0f} characters")
    print(f"this tree: {max(ours):,.0f} texts per CPU-second (best of {args.rounds}; all {[round(r) for r in ours]})")
    if theirs:
        print(f"{args.against}: {max(theirs):,.0f} texts per CPU-second (all {[round(r) for r in theirs]})")
        print(f"ratio: {max(ours) / max(theirs):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
