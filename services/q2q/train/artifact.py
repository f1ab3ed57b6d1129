"""Writes a fitted model as the shipped artifact: vocabulary JSON, float16 arrays in .npz, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from services.kit.ml.files import sha256_of, write_npz
from services.kit.ml.manifest import MANIFEST, Manifest
from services.q2q.domain.artifact import KIND, VOCABULARY, WEIGHTS
from services.q2q.domain.linear_model import LinearModel

MODEL_SERIES = "q2q-linear-3"


def model_version(corpus: dict[str, str]) -> str:
    """The version stored with every score: the model series and the first digits of the corpus hash."""
    combined = "".join(corpus[name] for name in sorted(corpus))
    return f"{MODEL_SERIES}+{combined[:12]}"


def save(directory: Path, model: LinearModel, *, corpus: dict[str, str], details: dict[str, Any]) -> Manifest:
    """Writes the model's files into `directory` (created) and returns its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    features = sorted(model.vocabulary.index, key=model.vocabulary.index.__getitem__)
    (directory / VOCABULARY).write_text(json.dumps(features, ensure_ascii=False, separators=(",", ":")), "utf-8")
    arrays = {"idf": model.vocabulary.idf, "weights": model.weights.astype(np.float16), "bias": model.bias}
    write_npz(directory / WEIGHTS, arrays)
    thresholds = {label: round(float(t), 2) for label, t in zip(model.labels, model.thresholds.tolist(), strict=True)}
    files = {name: sha256_of(directory / name) for name in (VOCABULARY, WEIGHTS)}
    manifest = Manifest(KIND, model_version(corpus), model.labels, thresholds, files, corpus, details)
    (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest
