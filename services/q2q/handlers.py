"""One function per command: validate → classify → store (one unit of work, or the consumer's session)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.kit.errors import FieldViolation
from services.q2q.domain import scoring
from services.q2q.domain.classifier import Classification, Classifier, Evidence, Method
from services.q2q.domain.commands import ClassifyText, ListScores, RecordManualScore
from services.q2q.domain.model import (
    MAX_NOTE_LENGTH,
    InvalidQ2qRequest,
    ScoreFilter,
    ScoreRecord,
    ScoresComputed,
    SourceAlreadyClassified,
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
from services.q2q.repository import Q2qStore, Q2qUnitOfWork

Clock = Callable[[], datetime]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def utc_now() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


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
    # not_requested | passed | held_for_review | unsafe | awaiting_screening (services.q2q.on_demand)
    screening: str = "not_requested"


def check_classify(command: ClassifyText) -> None:
    """Raises InvalidQ2qRequest naming every broken input rule of a Classify request."""
    violations = check_text(command.text) + check_profile_id(command.profile_id, required=False)
    if command.store:
        violations += check_source_id(command.source_id, required=True)
        if command.source_type is None:
            violations.append(FieldViolation("source_text_type", "is required when storing"))
    reject_if(violations, "the classification request is invalid")


def classify_text(text: str, *, classifier: Classifier) -> ClassifyOutcome:
    """Classifies a text and keeps nothing (storing goes through Safety's screening: services.q2q.on_demand)."""
    result = classifier.classify(text)
    return ClassifyOutcome(*_labelled(result), result.method, result.model_version, content_hash(text), stored=False)


def classify_and_store(
    store: Q2qStore,
    *,
    company_id: str,
    source: SourceRef,
    profile_id: str,
    text: str,
    classifier: Classifier,
    clock: Clock,
) -> StoredClassification:
    """The stored classification of a source: the existing one, or a new one stored with its event."""
    digest = content_hash(text)
    existing = store.get_classification(source)
    if existing is not None:
        return same_text(existing, digest)
    result = classifier.classify(text)
    stored = _new_classification(
        company_id, source=source, profile_id=profile_id, digest=digest, result=result, now=clock()
    )
    store.add_classification(stored)
    store.emit(
        ScoresComputed(
            company_id, stored.classification_id, profile_id, source, digest, stored.labels,
            tuple(record.score for record in stored.scores), result.method, result.model_version, stored.created_at,
        )
    )  # fmt: skip
    return stored


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


def _labelled(result: Classification) -> tuple[tuple[Label, ...], tuple[Evidence, ...], tuple[DimensionScore, ...]]:
    return result.labels, result.evidence, scoring.score(result.confidence)


def _new_classification(
    company_id: str, *, source: SourceRef, profile_id: str, digest: str, result: Classification, now: datetime
) -> StoredClassification:
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


def stored_outcome(stored: StoredClassification) -> ClassifyOutcome:
    """What Classify answers about a stored classification."""
    scores = tuple(record.score for record in stored.scores)
    return ClassifyOutcome(
        stored.labels, stored.evidence, scores, stored.method, stored.model_version, stored.content_hash, stored=True
    )


def list_scores(query: ListScores, *, uow: Q2qUnitOfWork) -> tuple[list[ScoreRecord], str]:
    """One page of a company's scores, newest first, and the token of the next page ('' on the last)."""
    violations = check_profile_id(query.profile_id, required=False)
    violations += check_source_id(query.source_id, required=False)
    if query.page_size < 0:
        violations.append(FieldViolation("page_size", "must not be negative"))
    reject_if(violations, "the listing request is invalid")
    size = min(query.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = decode_page_token(query.page_token) if query.page_token else None
    where = ScoreFilter(
        query.profile_id, query.source_id, query.source_type, query.dimension, query.method,
        query.start_time, query.end_time,
    )  # fmt: skip
    with uow.begin(company_id=query.company_id) as store:
        found = store.list_scores(where, limit=size + 1, after=after)
    page = found[:size]
    token = encode_page_token(page[-1]) if len(found) > size else ""
    return page, token


def encode_page_token(last: ScoreRecord) -> str:
    """An opaque token naming the position after `last`."""
    raw = json.dumps({"t": last.created_at.isoformat(), "id": last.score_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, str]:
    """The position a page token names; InvalidQ2qRequest when it was not made by encode_page_token."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        created = datetime.fromisoformat(raw["t"])
        score_id = str(raw["id"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidQ2qRequest(
            "page_token is not valid", violations=[FieldViolation("page_token", "is not a token from this listing")]
        ) from None
    if created.tzinfo is None:
        raise InvalidQ2qRequest("page_token is not valid", violations=[FieldViolation("page_token", "is malformed")])
    return created, score_id


def record_manual_score(command: RecordManualScore, *, uow: Q2qUnitOfWork, clock: Clock = utc_now) -> ScoreRecord:
    """Stores a score set by a person; an identical repeat returns the stored score and emits nothing."""
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
    assert command.dimension is not None
    source = SourceRef(command.source_type, command.source_id) if command.source_type and command.source_id else None
    value = DimensionScore(command.dimension, command.score, 1.0)
    record = ScoreRecord(
        new_id(), "", command.company_id, command.profile_id, source, command.dimension, value, Method.MANUAL,
        Method.MANUAL.value, "", (), (), command.recorded_by, command.note, clock(),
    )  # fmt: skip
    with uow.begin(company_id=command.company_id) as store:
        existing = store.find_score(record)
        if existing is not None:
            return existing
        store.add_score(record)
        store.emit(
            ScoresComputed(
                command.company_id, record.score_id, record.profile_id, source, "", (), (value,), Method.MANUAL,
                record.model_version, record.created_at,
            )
        )  # fmt: skip
    return record
