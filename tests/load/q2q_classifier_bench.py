"""The Q2Q classifier in process: texts classified per CPU-second of this process, batch and single.

    python -m tests.load.q2q_classifier_bench [--seconds 3] [--batch 64]

Two corpora: the text the mesh bench's q2q_classify scenario sends (scenarios.CLASSIFY_TEXT, CLASSIFY_BATCH
copies a request) and the held-out test split (services/q2q/data/test.jsonl, varied texts in nine
languages), cut into batches. `batch` is classify_texts (what ClassifyBatch does with texts kept in memory),
`single` is classify_text once per text (Classify). CPU time is the process's (all threads), so a figure
does not depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from services.q2q.domain.classification import classify_text, classify_texts
from services.q2q.domain.trained_classifier import TrainedClassifier
from tests.load.scenarios import CLASSIFY_BATCH, CLASSIFY_TEXT

TEST_SPLIT = Path(__file__).resolve().parents[2] / "services" / "q2q" / "data" / "test.jsonl"


def corpus() -> list[str]:
    """The texts of the held-out test split."""
    return [json.loads(line)["text"] for line in TEST_SPLIT.read_text(encoding="utf-8").splitlines() if line.strip()]


def texts_per_cpu_second(run: Callable[[], int], seconds: float) -> float:
    """Calls `run` (which returns how many texts it classified) until `seconds` of CPU time have passed."""
    run()  # warm caches (the model, the word caches) outside the measurement
    texts, started = 0, time.process_time()
    while (spent := time.process_time() - started) < seconds:
        texts += run()
    return texts / spent


def batches(texts: Sequence[str], size: int) -> list[list[str]]:
    """`texts` cut into batches of `size`."""
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


def measure(seconds: float, size: int) -> dict[str, float]:
    """Texts per CPU-second of each corpus, batch and single."""
    classifier = TrainedClassifier.load()
    varied = corpus()

    def batch_of(groups: list[list[str]]) -> Callable[[], int]:
        return lambda: sum(len(classify_texts(group, classifier=classifier)) for group in groups)

    def single_of(texts: Sequence[str]) -> Callable[[], int]:
        return lambda: len([classify_text(text, classifier=classifier) for text in texts])

    bench = [CLASSIFY_TEXT] * CLASSIFY_BATCH
    return {
        "bench_text_batch": texts_per_cpu_second(batch_of(batches(bench, size)), seconds),
        "bench_text_single": texts_per_cpu_second(single_of(bench), seconds),
        "test_split_batch": texts_per_cpu_second(batch_of(batches(varied, size)), seconds),
        "test_split_single": texts_per_cpu_second(single_of(varied), seconds),
    }


def main() -> None:
    """Prints texts per CPU-second for each corpus and mode."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    parser.add_argument("--batch", type=int, default=CLASSIFY_BATCH, help="texts per batch")
    args = parser.parse_args()
    for name, rate in measure(args.seconds, args.batch).items():
        print(f"{name:<20} {rate:>10,.0f} texts per CPU-second")


if __name__ == "__main__":
    main()
