"""What Classify answers, and the records a stored classification or a manual score creates (no storage)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.kit.errors import FieldViolation
from services.q2q.domain import scoring
from services.q2q.domain.classifier import Classification, Classifier, Evidence, Method
from services.q2q.domain.commands import ClassifyText, RecordManualScore
from services.q2q.domain.errors import SourceAlreadyClassified
from services.q2q.domain.model import (
    MAX_NOTE_LENGTH,
    ScoreRecord,
    SourceRef,
    StoredClassification,
    check_profile_id,
    check_source_id,
    check_text,
    content_hash,
    new_id,
    reject_if,
)
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Label, dimension_of

# A batch's bounds: the classifier's own batch size, and half the edge's API body limit (1 MiB) of text.
MAX_BATCH_ITEMS = 256
MAX_BATCH_TEXT_BYTES = 512 * 1024


class ScreeningOutcome(StrEnum):
    """Why Classify did or did not store its scores."""

    NOT_REQUESTED = "not_requested"
    PASSED = "passed"
    HELD_FOR_REVIEW = "held_for_review"
    UNSAFE = "unsafe"
    AWAITING_SCREENING = "awaiting_screening"


@dataclass(frozen=True)
class ClassifyOutcome:
    """What Classify answers: labels, evidence, scores, and whether they were stored."""

    labels: tuple[Label, ...]
    evidence: tuple[Evidence, ...]
    scores: tuple[DimensionScore, ...]
    method: Method
    model_version: str
    content_hash: str
    stored: bool
    screening: ScreeningOutcome = ScreeningOutcome.NOT_REQUESTED


def check_classify(command: ClassifyText) -> None:
    """Raises InvalidQ2qRequest naming every broken input rule of a Classify request."""
    reject_if(_classify_violations(command), "the classification request is invalid")


def check_classify_batch(commands: Sequence[ClassifyText]) -> None:
    """Raises InvalidQ2qRequest naming every broken rule of a batch, each item's by its index (`items[3].text`)."""
    violations = _batch_violations(commands)
    if len(commands) <= MAX_BATCH_ITEMS:  # an oversized batch is refused whole, its items unread
        for index, command in enumerate(commands):
            violations += [replace(v, field=f"items[{index}].{v.field}") for v in _classify_violations(command)]
    if violations:
        named = "; ".join(f"{v.field} {v.description}" for v in violations[:3])
        reject_if(violations, f"the batch classification request is invalid: {named}")


def classify_text(text: str, *, classifier: Classifier) -> ClassifyOutcome:
    """Classifies a text and keeps nothing."""
    return _outcome(text, classifier.classify(text))


def classify_texts(texts: Sequence[str], *, classifier: Classifier) -> list[ClassifyOutcome]:
    """Classifies texts together (one model pass), keeps nothing; each answer equals classify_text's."""
    return [_outcome(text, result) for text, result in zip(texts, classifier.classify_batch(texts), strict=True)]


def _outcome(text: str, result: Classification) -> ClassifyOutcome:
    scores = scoring.score(result.confidence)
    return ClassifyOutcome(
        result.labels, result.evidence, scores, result.method, result.model_version, content_hash(text), stored=False
    )


def _classify_violations(command: ClassifyText) -> list[FieldViolation]:
    violations = check_text(command.text) + check_profile_id(command.profile_id, required=False)
    if command.store:
        violations += check_source_id(command.source_id, required=True)
        if command.source_type is None:
            violations.append(FieldViolation("source_text_type", "is required when storing"))
    return violations


def _batch_violations(commands: Sequence[ClassifyText]) -> list[FieldViolation]:
    if not commands:
        return [FieldViolation("items", "must hold at least one item")]
    if len(commands) > MAX_BATCH_ITEMS:
        return [FieldViolation("items", f"must hold at most {MAX_BATCH_ITEMS} items, not {len(commands)}")]
    size = sum(len(command.text.encode("utf-8")) for command in commands)
    if size > MAX_BATCH_TEXT_BYTES:
        return [FieldViolation("items", f"texts must total at most {MAX_BATCH_TEXT_BYTES} bytes (UTF-8), not {size}")]
    return []


def stored_outcome(stored: StoredClassification) -> ClassifyOutcome:
    """What Classify answers about a stored classification."""
    scores = tuple(record.score for record in stored.scores)
    return ClassifyOutcome(
        stored.labels, stored.evidence, scores, stored.method, stored.model_version, stored.content_hash, stored=True
    )


def same_text(existing: StoredClassification | None, digest: str) -> StoredClassification:
    """The stored classification when it was made from the text with `digest`; SourceAlreadyClassified otherwise."""
    if existing is None:  # pragma: no cover - the racing transaction committed before we re-read
        raise SourceAlreadyClassified("the source is being classified; retry")
    if existing.content_hash != digest:
        raise SourceAlreadyClassified(
            "the source was already classified from a different text",
            metadata={"content_hash": existing.content_hash},
            violations=[FieldViolation("text", "differs from the text stored for this source")],
        )
    return existing


def new_classification(
    company_id: str, *, source: SourceRef, profile_id: str, digest: str, result: Classification, now: datetime
) -> StoredClassification:
    """The classification of a text, with one score record per scored dimension and its evidence."""
    classification_id = new_id()
    records = tuple(
        ScoreRecord(
            new_id(), classification_id, company_id, profile_id, source, value.dimension, value, result.method,
            result.model_version, digest, result.labels,
            tuple(item for item in result.evidence if dimension_of(item.label) is value.dimension), "", "", now,
        )
        for value in scoring.score(result.confidence)
    )  # fmt: skip
    return StoredClassification(
        classification_id, company_id, profile_id, source, digest, result.labels, result.evidence, records,
        result.method, result.model_version, now,
    )  # fmt: skip


def manual_score(command: RecordManualScore, *, now: datetime) -> ScoreRecord:
    """The score a person sets; InvalidQ2qRequest naming every broken input rule."""
    check_manual_score(command)
    assert command.dimension is not None  # checked above
    source = SourceRef(command.source_type, command.source_id) if command.source_type and command.source_id else None
    value = DimensionScore(command.dimension, command.score, 1.0)
    return ScoreRecord(
        new_id(), "", command.company_id, command.profile_id, source, command.dimension, value, Method.MANUAL,
        Method.MANUAL.value, "", (), (), command.recorded_by, command.note, now,
    )  # fmt: skip


def check_manual_score(command: RecordManualScore) -> None:
    """Raises InvalidQ2qRequest naming every broken input rule of a manual score."""
    violations = check_profile_id(command.profile_id, required=True)
    violations += check_source_id(command.source_id, required=False)
    if command.dimension is None:
        violations.append(FieldViolation("dimension", "is required"))
    if not (math.isfinite(command.score) and 0.0 <= command.score <= 1.0):
        violations.append(FieldViolation("score", "must be between 0 and 1"))
    if not command.note.strip() or len(command.note) > MAX_NOTE_LENGTH:
        violations.append(FieldViolation("note", f"is required, at most {MAX_NOTE_LENGTH} characters"))
    if command.source_id and command.source_type is None:
        violations.append(FieldViolation("source_text_type", "is required with source_text_id"))
    reject_if(violations, "the manual score is invalid")
