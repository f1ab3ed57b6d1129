"""Fits the model: vocabulary and IDF from the training texts, one logistic regression per label, and each
label's threshold chosen on the validation texts (never on the test split)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]  # no stubs shipped
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # no stubs shipped
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs shipped

from services.kit.ml.thresholds import choose_threshold
from services.q2q.domain.linear_model import LinearModel, Vocabulary, count_features, vectorise
from services.q2q.domain.taxonomy import LABELS
from services.q2q.train.corpus import Row

LABEL_CODES = tuple(entry.label.value for entry in LABELS)


@dataclass(frozen=True)
class Settings:
    """What training is free to choose; everything else follows from the corpus."""

    seed: int = 7
    min_df: int = 2
    max_features: int = 60_000
    c: float = 32.0
    balanced: bool = False
    # A threshold within this share of the best validation F1 may be chosen; the middle of that plateau is.
    plateau: float = 0.98


def build_vocabulary(texts: Sequence[str], settings: Settings) -> Vocabulary:
    """Features seen in at least `min_df` texts, the `max_features` most frequent, in a fixed order; smoothed IDF."""
    frequency: dict[str, int] = {}
    for counts in count_features(texts):
        for feature in counts:
            frequency[feature] = frequency.get(feature, 0) + 1
    kept = sorted((f for f, df in frequency.items() if df >= settings.min_df), key=lambda f: (-frequency[f], f))
    kept = sorted(kept[: settings.max_features])
    n = len(texts)
    idf = np.asarray([math.log((1 + n) / (1 + frequency[f])) + 1.0 for f in kept], dtype=np.float32)
    return Vocabulary.of(kept, idf)


def label_matrix(rows: Sequence[Row]) -> npt.NDArray[np.int8]:
    """(texts, labels) 0/1 matrix in taxonomy order."""
    matrix = np.zeros((len(rows), len(LABEL_CODES)), dtype=np.int8)
    for i, row in enumerate(rows):
        for label in row.labels:
            matrix[i, LABEL_CODES.index(label.value)] = 1
    return matrix


def fit(train: Sequence[Row], validation: Sequence[Row], settings: Settings) -> LinearModel:
    """The model: weights from `train`, thresholds from `validation`.

    One BLAS and OpenMP thread throughout: a threaded reduction may sum in another order from run to run, and a
    last-bit difference can move a float16 weight by one step (up to 0.03 for weights above 32).
    """
    with threadpool_limits(limits=1):
        return _fit(train, validation, settings)


def _fit(train: Sequence[Row], validation: Sequence[Row], settings: Settings) -> LinearModel:
    vocabulary = build_vocabulary([row.text for row in train], settings)
    rows = vectorise([row.text for row in train], vocabulary)
    features = sparse.csr_matrix((rows.values, rows.columns, rows.indptr), shape=(len(rows), rows.width))
    targets = label_matrix(train)
    weights = np.zeros((len(vocabulary), len(LABEL_CODES)), dtype=np.float32)
    bias = np.zeros(len(LABEL_CODES), dtype=np.float32)
    for j in range(len(LABEL_CODES)):
        classifier = LogisticRegression(
            C=settings.c, solver="liblinear", random_state=settings.seed, max_iter=2000,
            class_weight="balanced" if settings.balanced else None,
        )  # fmt: skip
        classifier.fit(features, targets[:, j])
        weights[:, j], bias[j] = classifier.coef_[0], classifier.intercept_[0]
    # Stored as float16 (the artifact stays small); fit thresholds on the weights that will be shipped.
    weights = weights.astype(np.float16).astype(np.float32)
    draft = LinearModel(LABEL_CODES, vocabulary, weights, bias, np.full(len(LABEL_CODES), 0.5, dtype=np.float32))
    probabilities = draft.probabilities([row.text for row in validation])
    expected = label_matrix(validation)
    thresholds = np.asarray(
        [choose_threshold(probabilities[:, j], expected[:, j], settings.plateau) for j in range(len(LABEL_CODES))],
        dtype=np.float32,
    )
    return LinearModel(LABEL_CODES, vocabulary, weights, bias, thresholds)
