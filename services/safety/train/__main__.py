"""Builds Safety's corpus and trains its classifier: `python -m services.safety.train [corpus|fit|all]`.

`corpus` composes `data/train.jsonl` and `data/validation.jsonl` from the banks in `data/banks/` and the
development sets; `fit` (the default) trains on them and writes `model/`; `all` does both. Same banks and seeds,
same bytes.
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

from services.kit.ml.files import sha256_of
from services.safety.domain.classifier import MODEL_DIR
from services.safety.train import corpus
from services.safety.train.artifact import save
from services.safety.train.fit import Settings, fit

SPLITS = ("train.jsonl", "validation.jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.safety.train", description=__doc__)
    parser.add_argument("step", nargs="?", default="fit", choices=("corpus", "fit", "all"))
    parser.add_argument("--data", type=Path, default=corpus.DATA_DIR, help="directory of the sets and banks")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="directory the model is written to")
    args = parser.parse_args(argv)
    if args.step in ("corpus", "all"):
        build_corpus(args.data)
    if args.step in ("fit", "all"):
        train(args.data, args.out, Settings())
    return 0


def build_corpus(data: Path) -> None:
    """Writes the train and validation splits, after checking they share nothing with the held-out splits."""
    splits = corpus.compose(banks_dir=data / "banks", data_dir=data)
    corpus.check_leakage([row.text for rows in splits.values() for row in rows], data)
    for name, rows in splits.items():
        digest = corpus.write_rows(data / f"{name}.jsonl", rows)
        print(f"{name}: {len(rows)} texts, sha256 {digest}")


def train(data: Path, out: Path, settings: Settings) -> None:
    """Fits on the corpus in `data` and writes the model to `out`."""
    started = time.perf_counter()
    train_rows, validation_rows = (corpus.read_rows(data / name) for name in SPLITS)
    corpus.check_leakage([row.text for row in train_rows + validation_rows], data)
    model = fit(train_rows, validation_rows, settings)
    details = {
        "training": {"seed": settings.seed, "min_df": settings.min_df, "c": settings.c,
                     "false_alarm_budget": settings.false_alarm_budget, "texts": len(train_rows),
                     "validation_texts": len(validation_rows), "features": len(model.index)},
        "libraries": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
    }  # fmt: skip
    manifest = save(out, model, corpus={name: sha256_of(data / name) for name in SPLITS}, details=details)
    elapsed = time.perf_counter() - started
    print(f"model {manifest.model_version}: {len(model.index)} features, trained in {elapsed:.1f} s -> {out}")


if __name__ == "__main__":
    sys.exit(main())
