"""Decision thresholds chosen on a validation split (never on a test split)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# The thresholds tried, 0.02 to 0.90 in steps of 0.01.
GRID = np.round(np.arange(0.02, 0.91, 0.01), 2)


def choose_threshold(scores: npt.NDArray[np.float32], expected: npt.NDArray[np.int8], plateau: float) -> float:
    """The middle of the thresholds whose validation F1 is within `plateau` of the best (0.5 without positives)."""
    if not expected.any():
        return 0.5
    f1 = np.asarray([f1_score(scores >= t, expected.astype(bool)) for t in GRID])
    good = GRID[f1 >= f1.max() * plateau]
    return float(np.round(np.median(good), 2))


def f1_score(predicted: npt.NDArray[np.bool_], expected: npt.NDArray[np.bool_]) -> float:
    """F1 of boolean predictions against boolean truth (0 when both are empty)."""
    tp = int(np.sum(predicted & expected))
    denominator = int(np.sum(predicted)) + int(np.sum(expected))
    return 2 * tp / denominator if denominator else 0.0
