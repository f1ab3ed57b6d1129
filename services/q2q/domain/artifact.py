"""The shipped model on disk: a manifest, the vocabulary as JSON and the arrays as .npz, read without pickle.

Every file's SHA-256 is in the manifest and checked on load, so an altered or half-copied model is refused
instead of scoring with the wrong weights. The manifest also names the corpus the model was trained on
(SHA-256 of each split), which the tests compare with the shipped corpus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.kit.ml.files import sha256_of
from services.q2q.domain.errors import ModelArtifactInvalid
from services.q2q.domain.features import FEATURES_VERSION
from services.q2q.domain.linear_model import LinearModel, Vocabulary
from services.q2q.domain.taxonomy import LABELS

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
MANIFEST, VOCABULARY, WEIGHTS = "manifest.json", "vocabulary.json", "weights.npz"
FORMAT = "q2q-linear/1"
_ARRAYS = ("idf", "weights", "bias")


@dataclass(frozen=True)
class Manifest:
    """What a model is: its version, the format and features it needs, its files' and its corpus' hashes."""

    model_version: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    files: dict[str, str]
    corpus: dict[str, str]
    details: dict[str, Any]

    def to_json(self) -> str:
        """The manifest file's text."""
        body = {"format": FORMAT, "features": FEATURES_VERSION, "model_version": self.model_version,
                "labels": list(self.labels), "thresholds": self.thresholds, "files": self.files,
                "corpus": self.corpus, **self.details}  # fmt: skip
        return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def read_manifest(directory: Path = MODEL_DIR) -> Manifest:
    """The manifest of the model in `directory`; ModelArtifactInvalid when it is missing or of another format."""
    try:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelArtifactInvalid(f"cannot read {directory / MANIFEST}: {error}") from error
    if raw.get("format") != FORMAT or raw.get("features") != FEATURES_VERSION:
        raise ModelArtifactInvalid(f"model format {raw.get('format')}/{raw.get('features')} is not {FORMAT}")
    if raw.get("labels") != [entry.label.value for entry in LABELS]:
        raise ModelArtifactInvalid("the model's labels are not the taxonomy's")
    known = {"format", "features", "model_version", "labels", "thresholds", "files", "corpus"}
    details = {k: v for k, v in raw.items() if k not in known}
    return Manifest(raw["model_version"], tuple(raw["labels"]), raw["thresholds"], raw["files"], raw["corpus"], details)


def load(directory: Path = MODEL_DIR) -> tuple[Manifest, LinearModel]:
    """The model in `directory`, its files checked against the manifest's hashes; arrays never unpickled."""
    manifest = read_manifest(directory)
    for name in (VOCABULARY, WEIGHTS):
        if not (directory / name).is_file() or sha256_of(directory / name) != manifest.files.get(name):
            raise ModelArtifactInvalid(f"{directory / name} is missing or differs from the manifest")
    features = json.loads((directory / VOCABULARY).read_text(encoding="utf-8"))
    with np.load(directory / WEIGHTS, allow_pickle=False) as arrays:
        idf, weights, bias = (np.asarray(arrays[name], dtype=np.float32) for name in _ARRAYS)
    if weights.shape != (len(features), len(manifest.labels)) or idf.shape != (len(features),):
        raise ModelArtifactInvalid("the model's arrays do not match its vocabulary")
    thresholds = np.asarray([manifest.thresholds[label] for label in manifest.labels], dtype=np.float32)
    model = LinearModel(manifest.labels, Vocabulary.of(features, idf), weights, bias, thresholds)
    return manifest, model
