"""Q2Q's domain events: what happened, before anything turns it into an envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.q2q.domain.classifier import Method
from services.q2q.domain.model import ScoreRecord, SourceRef, StoredClassification
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Label


@dataclass(frozen=True)
class ScoresComputed:
    """Scores were stored for one text (or set by a person); becomes `q2q.scores.computed`."""

    company_id: str
    subject: str
    profile_id: str
    source: SourceRef | None
    content_hash: str
    labels: tuple[Label, ...]
    scores: tuple[DimensionScore, ...]
    method: Method
    model_version: str
    computed_at: datetime

    @classmethod
    def of_classification(cls, stored: StoredClassification) -> ScoresComputed:
        """The event of a newly stored classification: its scores, subject the classification."""
        scores = tuple(record.score for record in stored.scores)
        return cls(
            stored.company_id, stored.classification_id, stored.profile_id, stored.source, stored.content_hash,
            stored.labels, scores, stored.method, stored.model_version, stored.created_at,
        )  # fmt: skip

    @classmethod
    def of_score(cls, record: ScoreRecord) -> ScoresComputed:
        """The event of one score stored on its own (a manual score), subject the score."""
        return cls(
            record.company_id, record.score_id, record.profile_id, record.source, record.content_hash,
            record.labels, (record.score,), record.method, record.model_version, record.created_at,
        )  # fmt: skip
