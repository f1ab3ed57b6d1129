"""The Q2Q taxonomy: dimensions, labels, label groups and which dimension each label moves."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

TAXONOMY_VERSION = "1.0"


class Dimension(StrEnum):
    """Outcome dimensions; every score is 0-1."""

    CONFIDENCE = "confidence"
    BELONGING = "belonging"
    LANG_LEVEL_PROXY = "lang_level_proxy"
    JOB_READINESS = "job_readiness"
    WELL_BEING = "well_being"


class Category(StrEnum):
    """Label groups."""

    CONFIDENCE = "confidence"
    BELONGING = "belonging"
    LANGUAGE_COMFORT = "language_comfort"
    EMPLOYABILITY_SIGNAL = "employability_signal"
    RISK_CUE = "risk_cue"


class Label(StrEnum):
    """Every label a classifier can produce; the value is its unique code."""

    CONFIDENCE_INCREASE = "confidence_increase"
    CONFIDENCE_DECREASE = "confidence_decrease"
    BELONGING_INCREASE = "belonging_increase"
    BELONGING_DECREASE = "belonging_decrease"
    LANGUAGE_COMFORT_LOW = "language_comfort_low"
    LANGUAGE_COMFORT_MEDIUM = "language_comfort_medium"
    LANGUAGE_COMFORT_HIGH = "language_comfort_high"
    JOB_SEARCH = "job_search"
    SKILLS_GAINED = "skills_gained"
    NETWORKING = "networking"
    RESUME_IMPROVEMENT = "resume_improvement"
    INTERVIEW_PREP = "interview_prep"
    CERTIFICATION = "certification"
    PORTFOLIO_BUILDING = "portfolio_building"
    CAREER_GOAL_SETTING = "career_goal_setting"
    ISOLATION = "isolation"
    FRUSTRATION = "frustration"
    DISENGAGEMENT = "disengagement"
    ANXIETY = "anxiety"
    DROPOUT_INDICATION = "dropout_indication"
    CONFUSION = "confusion"
    NEGATIVE_SELF_TALK = "negative_self_talk"
    LACK_OF_SUPPORT = "lack_of_support"


@dataclass(frozen=True)
class LabelInfo:
    """How the taxonomy describes one label."""

    label: Label
    category: Category
    name: str
    description: str
    dimension: Dimension


@dataclass(frozen=True)
class DimensionInfo:
    """How the taxonomy describes one dimension."""

    dimension: Dimension
    description: str


DIMENSIONS = (
    DimensionInfo(Dimension.CONFIDENCE, "Self-confidence: speaking up, trying, believing in oneself."),
    DimensionInfo(Dimension.BELONGING, "Sense of belonging: feeling welcome, included, part of a community."),
    DimensionInfo(Dimension.LANG_LEVEL_PROXY, "Comfort with the local language as the text describes it."),
    DimensionInfo(Dimension.JOB_READINESS, "Readiness for work: job search, skills, CV, interviews, credentials."),
    DimensionInfo(Dimension.WELL_BEING, "Well-being: the absence of risk cues such as isolation or anxiety."),
)

_C, _B, _L = Category.CONFIDENCE, Category.BELONGING, Category.LANGUAGE_COMFORT
_E, _R = Category.EMPLOYABILITY_SIGNAL, Category.RISK_CUE
_ROWS: tuple[tuple[Label, Category, str, str], ...] = (
    (Label.CONFIDENCE_INCREASE, _C, "confidence_increase", "More confident, braver, proud, comfortable speaking up."),
    (Label.CONFIDENCE_DECREASE, _C, "confidence_decrease", "Not confident, shy, afraid to speak, self-doubt."),
    (Label.BELONGING_INCREASE, _B, "belonging_increase", "Feels welcome, at home, part of a group, made friends."),
    (Label.BELONGING_DECREASE, _B, "belonging_decrease", "Feels excluded, an outsider, unwelcome, not accepted."),
    (Label.LANGUAGE_COMFORT_LOW, _L, "low", "Struggles with the language, does not understand, needs translation."),
    (Label.LANGUAGE_COMFORT_MEDIUM, _L, "medium", "Understands or speaks partly, improving with stated limits."),
    (Label.LANGUAGE_COMFORT_HIGH, _L, "high", "Speaks or understands with ease, fluent, comfortable speaking."),
    (Label.JOB_SEARCH, _E, "job_search", "Applying, job ads, interviews scheduled, job offers, starting work."),
    (Label.SKILLS_GAINED, _E, "skills_gained", "Learned a practical or professional skill or tool."),
    (Label.NETWORKING, _E, "networking", "Professional contacts, introductions, networking events, career fairs."),
    (Label.RESUME_IMPROVEMENT, _E, "resume_improvement", "Work on a CV, cover letter or professional profile."),
    (Label.INTERVIEW_PREP, _E, "interview_prep", "Practising or preparing for job interviews."),
    (Label.CERTIFICATION, _E, "certification", "Earning or pursuing a certificate, licence, diploma or exam."),
    (Label.PORTFOLIO_BUILDING, _E, "portfolio_building", "Building a portfolio or showcase of own work."),
    (Label.CAREER_GOAL_SETTING, _E, "career_goal_setting", "Stating or planning a career or study goal."),
    (Label.ISOLATION, _R, "isolation", "Loneliness, no friends, nobody to talk to."),
    (Label.FRUSTRATION, _R, "frustration", "Frustrated, fed up, annoyed, nothing works."),
    (Label.DISENGAGEMENT, _R, "disengagement", "Bored, unmotivated, skipping or not showing up, no point."),
    (Label.ANXIETY, _R, "anxiety", "Worried, nervous, stressed, scared, panic."),
    (Label.DROPOUT_INDICATION, _R, "dropout_indication", "Wants to quit, give up, stop coming or drop out."),
    (Label.CONFUSION, _R, "confusion", "Confused, lost, unclear, does not know what to do."),
    (Label.NEGATIVE_SELF_TALK, _R, "negative_self_talk", "Calls self stupid, useless, worthless, too old, hopeless."),
    (Label.LACK_OF_SUPPORT, _R, "lack_of_support", "Nobody helps, no reply, cancelled, ignored, left alone."),
)
_DIMENSION_OF = {
    _C: Dimension.CONFIDENCE,
    _B: Dimension.BELONGING,
    _L: Dimension.LANG_LEVEL_PROXY,
    _E: Dimension.JOB_READINESS,
    _R: Dimension.WELL_BEING,
}
LABELS: tuple[LabelInfo, ...] = tuple(
    LabelInfo(label, category, name, description, _DIMENSION_OF[category])
    for label, category, name, description in _ROWS
)
_BY_LABEL = {info.label: info for info in LABELS}


def info(label: Label) -> LabelInfo:
    """The taxonomy entry of a label."""
    return _BY_LABEL[label]


def category_of(label: Label) -> Category:
    """The group a label belongs to."""
    return _BY_LABEL[label].category


def dimension_of(label: Label) -> Dimension:
    """The dimension a label moves."""
    return _BY_LABEL[label].dimension


@functools.cache  # scoring asks for two groups per classified text; the taxonomy never changes
def in_category(category: Category) -> tuple[Label, ...]:
    """The labels of one group, in taxonomy order."""
    return tuple(entry.label for entry in LABELS if entry.category is category)
