"""Writes a fitted model as the shipped artifact: vocabulary JSON, float16 arrays in .npz, and the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from services.kit.ml import manifest
from services.q2q.domain.artifact import KIND, VOCABULARY, WEIGHTS
from services.q2q.domain.linear_model import LinearModel

MODEL_SERIES = "q2q-linear-3"


def save(directory: Path, model: LinearModel, *, corpus: dict[str, str], details: dict[str, Any]) -> manifest.Manifest:
    """Writes the model's files into `directory` (created) and returns its manifest."""
    features = sorted(model.vocabulary.index, key=model.vocabulary.index.__getitem__)
    arrays = {"idf": model.vocabulary.idf, "weights": model.weights.astype(np.float16), "bias": model.bias}
    artifact = manifest.Artifact(model.labels, features, arrays, model.thresholds.tolist())
    return manifest.save(
        directory, KIND, MODEL_SERIES, artifact, names=(VOCABULARY, WEIGHTS), corpus=corpus, details=details
    )
