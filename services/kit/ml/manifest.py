"""A shipped model's manifest: what it is (format, features, labels), its version and thresholds, and the SHA-256
of its files and of the corpus it was trained on. Read and checked the same way for every model, so an altered,
half-copied or foreign model is refused before it scores anything."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.errors import DomainError
from services.kit.ml.files import sha256_of, write_npz

MANIFEST = "manifest.json"
_KNOWN = frozenset({"format", "features", "model_version", "labels", "thresholds", "files", "corpus"})


@dataclass(frozen=True)
class Kind:
    """A family of models: its file format, the feature extraction it is read with, its labels in order, and the
    error a model of another kind (or a damaged one) is refused with."""

    format: str
    features: str
    labels: tuple[str, ...]
    invalid: type[DomainError]


@dataclass(frozen=True)
class Manifest:
    """One model: its kind, version, labels, per-label thresholds, files' and corpus' hashes, and free details."""

    kind: Kind
    model_version: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    files: dict[str, str]
    corpus: dict[str, str]
    details: dict[str, Any]

    def to_json(self) -> str:
        """The manifest file's text."""
        body = {"format": self.kind.format, "features": self.kind.features, "model_version": self.model_version,
                "labels": list(self.labels), "thresholds": self.thresholds, "files": self.files,
                "corpus": self.corpus, **self.details}  # fmt: skip
        return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def check_files(self, directory: Path, names: tuple[str, ...]) -> None:
        """Refuses the model when one of its files is missing or differs from the hash the manifest names."""
        for name in names:
            if not (directory / name).is_file() or sha256_of(directory / name) != self.files.get(name):
                raise self.kind.invalid(f"{directory / name} is missing or differs from the manifest")


def read_manifest(directory: Path, kind: Kind) -> Manifest:
    """The manifest in `directory`; `kind.invalid` when it is missing, unreadable or of another kind."""
    try:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise kind.invalid(f"cannot read {directory / MANIFEST}: {error}") from error
    if raw.get("format") != kind.format or raw.get("features") != kind.features:
        raise kind.invalid(f"model format {raw.get('format')}/{raw.get('features')} is not {kind.format}")
    if tuple(raw.get("labels", ())) != kind.labels:
        raise kind.invalid(f"the model's labels are not {list(kind.labels)}")
    details = {k: v for k, v in raw.items() if k not in _KNOWN}
    return Manifest(kind, raw["model_version"], kind.labels, raw["thresholds"], raw["files"], raw["corpus"], details)


def model_version(series: str, corpus: dict[str, str]) -> str:
    """The version stored with every score or finding: the model series and the first digits of the corpus hash."""
    combined = "".join(corpus[name] for name in sorted(corpus))
    return f"{series}+{combined[:12]}"


@dataclass(frozen=True)
class Artifact:
    """What a fitted linear model writes: its feature names in column order, its arrays, and its thresholds."""

    labels: tuple[str, ...]
    features: list[str]
    arrays: dict[str, Any]
    thresholds: list[float]


def save(directory: Path, kind: Kind, series: str, artifact: Artifact, *, names: tuple[str, str],
         corpus: dict[str, str], details: dict[str, Any]) -> Manifest:  # fmt: skip
    """Writes the model's vocabulary JSON and arrays `.npz` (`names`) and its manifest into `directory` (created),
    the same bytes for the same model, and returns the manifest."""
    vocabulary, weights = names
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(artifact.features, ensure_ascii=False, separators=(",", ":"))
    (directory / vocabulary).write_text(text, "utf-8")
    write_npz(directory / weights, artifact.arrays)
    thresholds = {label: round(float(t), 2) for label, t in zip(artifact.labels, artifact.thresholds, strict=True)}
    files = {name: sha256_of(directory / name) for name in names}
    manifest = Manifest(kind, model_version(series, corpus), artifact.labels, thresholds, files, corpus, details)
    (directory / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest
