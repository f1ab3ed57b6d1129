"""Writes a fitted classifier as the shipped artifact: vocabulary JSON, float16 arrays in .npz, and the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from services.kit.ml import manifest
from services.safety.domain.classifier import KIND, VOCABULARY, WEIGHTS, LinearClassifier

# The version named by every finding of the classifier is this series and the first digits of the corpus hash.
MODEL_SERIES = "safety-linear-1"


def save(
    directory: Path, model: LinearClassifier, *, corpus: dict[str, str], details: dict[str, Any]
) -> manifest.Manifest:
    """Writes the model's files into `directory` (created) and returns its manifest."""
    features = sorted(model.index, key=model.index.__getitem__)
    arrays = {"idf": model.idf, "weights": model.weights.astype(np.float16), "bias": model.bias}
    artifact = manifest.Artifact(model.labels, features, arrays, model.thresholds.tolist())
    return manifest.save(
        directory, KIND, MODEL_SERIES, artifact, names=(VOCABULARY, WEIGHTS), corpus=corpus, details=details
    )
