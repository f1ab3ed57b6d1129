"""Labels to scores exactly as DOMAIN §6 states."""

from __future__ import annotations

import pytest

from services.q2q.domain.scoring import NO_EVIDENCE_CONFIDENCE, score
from services.q2q.domain.taxonomy import Category, Dimension, Label, in_category

L = Label


def _scores(*labels: Label) -> dict[Dimension, float]:
    return {value.dimension: value.score for value in score(dict.fromkeys(labels, 0.7))}


def test_defaults_without_labels_and_no_language_score() -> None:
    assert _scores() == {
        Dimension.CONFIDENCE: 0.5,
        Dimension.BELONGING: 0.5,
        Dimension.JOB_READINESS: 0.3,
        Dimension.WELL_BEING: 0.9,
    }
    assert all(value.confidence == NO_EVIDENCE_CONFIDENCE for value in score({}))


@pytest.mark.parametrize(
    ("labels", "dimension", "expected"),
    [
        ((L.CONFIDENCE_INCREASE,), Dimension.CONFIDENCE, 0.8),
        ((L.CONFIDENCE_DECREASE,), Dimension.CONFIDENCE, 0.2),
        ((L.CONFIDENCE_INCREASE, L.CONFIDENCE_DECREASE), Dimension.CONFIDENCE, 0.2),
        ((L.BELONGING_INCREASE,), Dimension.BELONGING, 0.8),
        ((L.BELONGING_INCREASE, L.BELONGING_DECREASE), Dimension.BELONGING, 0.2),
        ((L.LANGUAGE_COMFORT_LOW,), Dimension.LANG_LEVEL_PROXY, 0.3),
        ((L.LANGUAGE_COMFORT_MEDIUM,), Dimension.LANG_LEVEL_PROXY, 0.6),
        ((L.LANGUAGE_COMFORT_HIGH,), Dimension.LANG_LEVEL_PROXY, 0.9),
        ((L.JOB_SEARCH,), Dimension.JOB_READINESS, 0.45),
        ((L.JOB_SEARCH, L.RESUME_IMPROVEMENT, L.INTERVIEW_PREP), Dimension.JOB_READINESS, 0.75),
        (in_category(Category.EMPLOYABILITY_SIGNAL), Dimension.JOB_READINESS, 1.0),
        ((L.ISOLATION,), Dimension.WELL_BEING, 0.75),
        ((L.ISOLATION, L.ANXIETY, L.FRUSTRATION), Dimension.WELL_BEING, 0.45),
        (in_category(Category.RISK_CUE), Dimension.WELL_BEING, 0.1),
    ],
)
def test_label_rules(labels: tuple[Label, ...], dimension: Dimension, expected: float) -> None:
    assert _scores(*labels)[dimension] == pytest.approx(expected)


def test_score_confidence_comes_from_the_labels() -> None:
    values = {v.dimension: v for v in score({L.CONFIDENCE_INCREASE: 0.9, L.JOB_SEARCH: 0.6, L.NETWORKING: 0.8})}
    assert values[Dimension.CONFIDENCE].confidence == 0.9
    assert values[Dimension.JOB_READINESS].confidence == pytest.approx(0.7)
