"""The shipped model on disk: a manifest, the vocabulary as JSON and the arrays as .npz, read without pickle.

Every file's SHA-256 is in the manifest and checked on load, so an altered or half-copied model is refused
instead of scoring with the wrong weights. The manifest also names the corpus the model was trained on
(SHA-256 of each split), which the tests compare with the shipped corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from services.kit.ml import manifest as kit_manifest
from services.kit.ml.manifest import Kind, Manifest
from services.q2q.domain.errors import ModelArtifactInvalid
from services.q2q.domain.features import FEATURES_VERSION
from services.q2q.domain.linear_model import LinearModel, Vocabulary
from services.q2q.domain.taxonomy import LABELS

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
VOCABULARY, WEIGHTS = "vocabulary.json", "weights.npz"
FORMAT = "q2q-linear/1"
_ARRAYS = ("idf", "weights", "bias")


KIND = Kind(FORMAT, FEATURES_VERSION, tuple(entry.label.value for entry in LABELS), ModelArtifactInvalid)


def read_manifest(directory: Path = MODEL_DIR) -> Manifest:
    """The manifest of the model in `directory`; ModelArtifactInvalid when it is missing or of another format."""
    return kit_manifest.read_manifest(directory, KIND)


def load(directory: Path = MODEL_DIR) -> tuple[Manifest, LinearModel]:
    """The model in `directory`, its files checked against the manifest's hashes; arrays never unpickled."""
    manifest = read_manifest(directory)
    manifest.check_files(directory, (VOCABULARY, WEIGHTS))
    features = json.loads((directory / VOCABULARY).read_text(encoding="utf-8"))
    with np.load(directory / WEIGHTS, allow_pickle=False) as arrays:
        idf, weights, bias = (np.asarray(arrays[name], dtype=np.float32) for name in _ARRAYS)
    if weights.shape != (len(features), len(manifest.labels)) or idf.shape != (len(features),):
        raise ModelArtifactInvalid("the model's arrays do not match its vocabulary")
    thresholds = np.asarray([manifest.thresholds[label] for label in manifest.labels], dtype=np.float32)
    model = LinearModel(manifest.labels, Vocabulary.of(features, idf), weights, bias, thresholds)
    return manifest, model
