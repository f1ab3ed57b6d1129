"""The classifier interface and the deterministic rule-based classifier behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.q2q.domain.lexicon_affect import BELONGING, CONFIDENCE, RISK_CUES
from services.q2q.domain.lexicon_progress import EMPLOYABILITY, LANGUAGE_COMFORT
from services.q2q.domain.matching import Hit, find_hits
from services.q2q.domain.resolution import resolve
from services.q2q.domain.rules import Rule
from services.q2q.domain.taxonomy import LABELS, Label
from services.q2q.domain.text import clauses, normalise

RULES_VERSION = "rules-1.0.0"
ALL_RULES: tuple[Rule, ...] = (*CONFIDENCE, *BELONGING, *LANGUAGE_COMFORT, *EMPLOYABILITY, *RISK_CUES)
_ORDER = {entry.label: index for index, entry in enumerate(LABELS)}


class Method(StrEnum):
    """How a score was produced."""

    RULE_BASED = "rule_based"
    AI_CLASSIFIER = "ai_classifier"
    MANUAL = "manual"


@dataclass(frozen=True)
class Evidence:
    """A span of the classified text supporting a label; `end` is exclusive."""

    label: Label
    text: str
    start: int
    end: int
    reason: str


@dataclass(frozen=True)
class Classification:
    """Labels found in one text, each with a confidence and its evidence."""

    labels: tuple[Label, ...]
    confidence: Mapping[Label, float]
    evidence: tuple[Evidence, ...]
    method: Method
    model_version: str


class Classifier(Protocol):
    """Anything that turns a text into labels with evidence; a model-backed provider fits here too."""

    @property
    def method(self) -> Method: ...

    @property
    def model_version(self) -> str: ...

    def classify(self, text: str) -> Classification: ...

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]: ...


class RuleBasedClassifier:
    """Lexicon and pattern rules with negation, intensity, contrast and past-tense handling."""

    def __init__(self, rules: tuple[Rule, ...] = ALL_RULES, *, version: str = RULES_VERSION) -> None:
        self._rules = rules
        self._version = version

    @property
    def method(self) -> Method:
        """Always rule-based."""
        return Method.RULE_BASED

    @property
    def model_version(self) -> str:
        """The rule set version."""
        return self._version

    def classify(self, text: str) -> Classification:
        """Labels, confidences and evidence for `text`; the same text always gives the same answer."""
        normalised = normalise(text)
        segments = clauses(normalised)
        hits = resolve(find_hits(normalised, self._rules, segments)) if segments else []
        evidence = tuple(_evidence(text, hit) for hit in hits)
        labels = tuple(sorted({hit.label for hit in hits}, key=_ORDER.__getitem__))
        confidence = {label: _combined([h.weight for h in hits if h.label is label]) for label in labels}
        return Classification(labels, confidence, evidence, self.method, self._version)

    def classify_batch(self, texts: Sequence[str]) -> list[Classification]:
        """One classification per text; rules read one text at a time, so this is classify in a loop."""
        return [self.classify(text) for text in texts]


def _evidence(text: str, hit: Hit) -> Evidence:
    return Evidence(hit.label, text[hit.start : hit.end], hit.start, hit.end, hit.reason)


def _combined(weights: list[float]) -> float:
    # Independent pieces of evidence: each one lowers the chance that all of them are wrong.
    miss = 1.0
    for weight in weights:
        miss *= 1.0 - weight
    return round(1.0 - miss, 3)
