"""Builds the Q2Q corpus and trains the classifier: `python -m services.q2q.train [corpus|fit|all]`.

`corpus` composes `data/train.jsonl` and `data/validation.jsonl` from the phrase banks; `fit` (the default)
trains on them and writes `model/`; `all` does both. Same banks and seeds, same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy  # type: ignore[import-untyped]  # no stubs shipped
import sklearn  # type: ignore[import-untyped]  # no stubs shipped

from services.q2q.domain.artifact import MODEL_DIR
from services.q2q.train import corpus
from services.q2q.train.artifact import save
from services.q2q.train.banks import DATA_DIR
from services.q2q.train.fit import Settings, fit
from services.q2q.train.splits import read_rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.q2q.train", description=__doc__)
    parser.add_argument("step", nargs="?", default="fit", choices=("corpus", "fit", "all"))
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="directory of the corpus splits")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="directory the model is written to")
    args = parser.parse_args(argv)
    if args.step in ("corpus", "all"):
        build_corpus(args.data)
    if args.step in ("fit", "all"):
        train(args.data, args.out, Settings())
    return 0


def build_corpus(data: Path) -> None:
    """Writes the train and validation splits, after checking they share nothing with the held-out texts."""
    train_rows = corpus.extra_training_rows() + corpus.compose_split("train")
    validation_rows = corpus.compose_split("validation")
    corpus.check_leakage([row.text for row in train_rows + validation_rows])
    for name, rows in (("train", train_rows), ("validation", validation_rows)):
        digest = corpus.write_rows(data / f"{name}.jsonl", rows)
        print(f"{name}: {len(rows)} texts, sha256 {digest}")


def train(data: Path, out: Path, settings: Settings) -> None:
    """Fits on the corpus in `data` and writes the model to `out`."""
    started = time.perf_counter()
    train_rows, validation_rows = read_rows(data / "train.jsonl"), read_rows(data / "validation.jsonl")
    corpus.check_leakage([row.text for row in train_rows + validation_rows])
    model = fit(train_rows, validation_rows, settings)
    hashes = {name: corpus.file_sha256(data / name) for name in ("train.jsonl", "validation.jsonl")}
    details = {
        "training": {"seed": settings.seed, "min_df": settings.min_df, "max_features": settings.max_features,
                     "c": settings.c, "threshold_plateau": settings.plateau, "texts": len(train_rows),
                     "validation_texts": len(validation_rows), "features": len(model.vocabulary)},
        "libraries": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
    }  # fmt: skip
    manifest = save(out, model, corpus=hashes, details=details)
    elapsed = time.perf_counter() - started
    print(f"model {manifest.model_version}: {len(model.vocabulary)} features, trained in {elapsed:.1f} s -> {out}")


if __name__ == "__main__":
    sys.exit(main())
