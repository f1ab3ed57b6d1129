"""Label-to-score rules (DOMAIN §6) and the classifier confidence attached to each score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.q2q.domain.taxonomy import Category, Dimension, Label, in_category

L = Label
# A dimension scored from its default alone rests on no evidence in the text.
NO_EVIDENCE_CONFIDENCE = 0.3


@dataclass(frozen=True)
class ScoringRule:
    """How one dimension is scored: fixed scores by label precedence, else a count, else the default.

    `default_score` None means no score is produced when no label of the rule is present.
    """

    dimension: Dimension
    default_score: float | None
    fixed_scores: tuple[tuple[Label, float], ...] = ()
    counted_category: Category | None = None
    base_score: float = 0.0
    step_per_label: float = 0.0
    min_score: float = 0.0
    max_score: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class DimensionScore:
    """The score of one dimension with the classifier's confidence in it."""

    dimension: Dimension
    score: float
    confidence: float


RULES: tuple[ScoringRule, ...] = (
    ScoringRule(
        Dimension.CONFIDENCE,
        0.5,
        ((L.CONFIDENCE_DECREASE, 0.2), (L.CONFIDENCE_INCREASE, 0.8)),
        description="confidence = 0.2 on confidence_decrease (wins), else 0.8 on confidence_increase, else 0.5",
    ),
    ScoringRule(
        Dimension.BELONGING,
        0.5,
        ((L.BELONGING_DECREASE, 0.2), (L.BELONGING_INCREASE, 0.8)),
        description="belonging = 0.2 on belonging_decrease (wins), else 0.8 on belonging_increase, else 0.5",
    ),
    ScoringRule(
        Dimension.LANG_LEVEL_PROXY,
        None,
        ((L.LANGUAGE_COMFORT_LOW, 0.3), (L.LANGUAGE_COMFORT_MEDIUM, 0.6), (L.LANGUAGE_COMFORT_HIGH, 0.9)),
        description=(
            "lang_level_proxy = low 0.3 / medium 0.6 / high 0.9; no score at all when the text says "
            "nothing about language (a default would bias averages)"
        ),
    ),
    ScoringRule(
        Dimension.JOB_READINESS,
        0.3,
        counted_category=Category.EMPLOYABILITY_SIGNAL,
        base_score=0.3,
        step_per_label=0.15,
        min_score=0.0,
        max_score=1.0,
        description="job_readiness = min(0.3 + 0.15 x distinct employability signals, 1.0)",
    ),
    ScoringRule(
        Dimension.WELL_BEING,
        0.9,
        counted_category=Category.RISK_CUE,
        base_score=0.9,
        step_per_label=-0.15,
        min_score=0.1,
        max_score=1.0,
        description="well_being = max(0.9 - 0.15 x distinct risk cues, 0.1)",
    ),
)


def score(labels: Mapping[Label, float]) -> tuple[DimensionScore, ...]:
    """One score per dimension (lang_level_proxy only with a language label); `labels` maps label → confidence."""
    scores = (_apply(rule, labels) for rule in RULES)
    return tuple(s for s in scores if s is not None)


def _apply(rule: ScoringRule, labels: Mapping[Label, float]) -> DimensionScore | None:
    for label, fixed in rule.fixed_scores:
        if label in labels:
            return DimensionScore(rule.dimension, fixed, labels[label])
    if rule.counted_category is not None:
        counted = [labels[label] for label in in_category(rule.counted_category) if label in labels]
        if counted:
            raw = rule.base_score + rule.step_per_label * len(counted)
            value = round(min(max(raw, rule.min_score), rule.max_score), 4)
            return DimensionScore(rule.dimension, value, round(sum(counted) / len(counted), 3))
    if rule.default_score is None:
        return None
    return DimensionScore(rule.dimension, rule.default_score, NO_EVIDENCE_CONFIDENCE)
