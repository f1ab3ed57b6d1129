"""Fits the classifier: a vocabulary from the training texts, one logistic regression per label, and each label's
threshold chosen on the validation texts (never on a held-out test split)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]  # no stubs shipped
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # no stubs shipped
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs shipped

from services.safety.domain.classifier import LABELS, LinearClassifier, features, words
from services.safety.domain.obfuscation import normalise
from services.safety.domain.self_harm import fold
from services.safety.train.corpus import Row

# The thresholds tried, 0.02 to 0.99: a budget of false alarms can need one above the usual 0.90.
GRID = np.round(np.arange(0.02, 1.0, 0.01), 2)


@dataclass(frozen=True)
class Settings:
    """What training is free to choose; everything else follows from the corpus."""

    seed: int = 7
    min_df: int = 2
    c: float = 16.0
    # Per label (self_harm, spam, toxic), the share of validation's negatives its threshold may flag at most; the
    # rest of the choice is recall. A self-harm finding sends a text to a human; a spam finding makes it unsafe,
    # so a false one loses a participant's words: its budget is ten times smaller; a toxic finding holds the text
    # for a human's review, a delay for the writer: in between.
    false_alarm_budget: tuple[float, ...] = (0.02, 0.002, 0.01)


def folded(text: str) -> str:
    """The text as the classifier reads it (lower-cased, diacritics folded), as screening passes it."""
    return fold(normalise(text))


def fit(train: Sequence[Row], validation: Sequence[Row], settings: Settings) -> LinearClassifier:
    """The classifier: weights from `train`, thresholds from `validation`.

    One BLAS and OpenMP thread throughout: a threaded reduction may sum in another order from run to run.
    """
    with threadpool_limits(limits=1):
        return _fit(train, validation, settings)


def _fit(train: Sequence[Row], validation: Sequence[Row], settings: Settings) -> LinearClassifier:
    train_features = [[f for _, f in features(words(folded(row.text)))] for row in train]
    frequency: dict[str, int] = {}
    for found in train_features:
        for feature in set(found):
            frequency[feature] = frequency.get(feature, 0) + 1
    vocabulary = sorted(f for f, df in frequency.items() if df >= settings.min_df)
    index = {feature: j for j, feature in enumerate(vocabulary)}
    n = len(train)
    idf = np.asarray([math.log((1 + n) / (1 + frequency[f])) + 1.0 for f in vocabulary], dtype=np.float32)
    matrix = _matrix(train_features, index, idf)
    targets = label_matrix(train)
    weights = np.zeros((len(vocabulary), len(LABELS)), dtype=np.float32)
    bias = np.zeros(len(LABELS), dtype=np.float32)
    for j in range(len(LABELS)):
        classifier = LogisticRegression(C=settings.c, solver="liblinear", random_state=settings.seed, max_iter=2000)
        classifier.fit(matrix, targets[:, j])
        weights[:, j], bias[j] = classifier.coef_[0], classifier.intercept_[0]
    # Stored as float16 (the artifact stays small); thresholds are chosen on the weights that will be shipped.
    weights = weights.astype(np.float16).astype(np.float32)
    draft = LinearClassifier(LABELS, index, idf, weights, bias, np.full(len(LABELS), 0.5, dtype=np.float32))
    scores = np.asarray([draft.probabilities(folded(row.text)) for row in validation], dtype=np.float32)
    expected = label_matrix(validation)
    thresholds = np.asarray(
        [choose_threshold(scores[:, j], expected[:, j], settings.false_alarm_budget[j]) for j in range(len(LABELS))],
        dtype=np.float32,
    )
    return LinearClassifier(LABELS, index, idf, weights, bias, thresholds)


def _matrix(rows: Sequence[list[str]], index: dict[str, int], idf: npt.NDArray[np.float32]) -> sparse.csr_matrix:
    """Each known feature occurrence valued by its IDF, each row divided by the square root of the sum of those
    values squared, as `LinearClassifier` scores a text."""
    indptr: list[int] = [0]
    columns: list[int] = []
    values: list[float] = []
    for found in rows:
        summed: dict[int, float] = {}
        square = 0.0
        for feature in found:
            j = index.get(feature)
            if j is not None:
                weight = float(idf[j])
                summed[j] = summed.get(j, 0.0) + weight
                square += weight * weight
        scale = 1.0 / math.sqrt(square) if square else 0.0
        known = sorted(summed)
        columns += known
        values += [summed[j] * scale for j in known]
        indptr.append(len(columns))
    return sparse.csr_matrix((values, columns, indptr), shape=(len(rows), len(index)), dtype=np.float64)


def label_matrix(rows: Sequence[Row]) -> npt.NDArray[np.int8]:
    """(texts, labels) 0/1 matrix in label order."""
    matrix = np.zeros((len(rows), len(LABELS)), dtype=np.int8)
    for i, row in enumerate(rows):
        for label in row.labels:
            matrix[i, LABELS.index(label)] = 1
    return matrix


def choose_threshold(scores: npt.NDArray[np.float32], expected: npt.NDArray[np.int8], budget: float) -> float:
    """The lowest threshold of the grid whose false alarms on validation's negatives stay within `budget` of them:
    a person at risk is missed less often, at the price of a few more texts for a human to read."""
    negatives = scores[expected == 0]
    allowed = math.floor(budget * len(negatives))
    for threshold in GRID:
        if int(np.sum(negatives >= threshold)) <= allowed:
            return float(threshold)
    return float(GRID[-1])
