"""Protobuf ⇄ domain for Q2Q's RPC messages: requests to commands, records and outcomes to responses."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import struct_pb2, timestamp_pb2

from services.kit.audit.records import AuditEntry
from services.kit.text_sources import TextSourceType
from services.q2q.domain import audit, scoring, taxonomy
from services.q2q.domain.classification import ClassifyOutcome, ScreeningOutcome
from services.q2q.domain.classifier import Evidence, Method
from services.q2q.domain.commands import ClassifyText, ListScores, RecordManualScore
from services.q2q.domain.model import ScoreFilter, ScoreRecord
from services.q2q.domain.scoring import DimensionScore
from services.q2q.domain.taxonomy import Category, Dimension, Label
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2

_LABEL_PREFIX = {
    Category.CONFIDENCE: "",
    Category.BELONGING: "",
    Category.LANGUAGE_COMFORT: "",
    Category.EMPLOYABILITY_SIGNAL: "EMPLOYABILITY_",
    Category.RISK_CUE: "RISK_",
}
LABEL_TO_PROTO: dict[Label, q2q_pb2.Label.ValueType] = {
    label: q2q_pb2.Label.Value(f"LABEL_{_LABEL_PREFIX[taxonomy.category_of(label)]}{label.name}") for label in Label
}
LABEL_FROM_PROTO = {value: key for key, value in LABEL_TO_PROTO.items()}
DIMENSION_TO_PROTO: dict[Dimension, q2q_pb2.Dimension.ValueType] = {
    d: q2q_pb2.Dimension.Value(f"DIMENSION_{d.name}") for d in Dimension
}
DIMENSION_FROM_PROTO = {value: key for key, value in DIMENSION_TO_PROTO.items()}
CATEGORY_TO_PROTO: dict[Category, q2q_pb2.LabelCategory.ValueType] = {
    c: q2q_pb2.LabelCategory.Value(f"LABEL_CATEGORY_{c.name}") for c in Category
}
METHOD_TO_PROTO: dict[Method, q2q_pb2.ClassificationMethod.ValueType] = {
    m: q2q_pb2.ClassificationMethod.Value(f"CLASSIFICATION_METHOD_{m.name}") for m in Method
}
METHOD_FROM_PROTO = {value: key for key, value in METHOD_TO_PROTO.items()}
SCREENING_TO_PROTO: dict[ScreeningOutcome, q2q_pb2.ScreeningOutcome.ValueType] = {
    s: q2q_pb2.ScreeningOutcome.Value(f"SCREENING_OUTCOME_{s.name}") for s in ScreeningOutcome
}
SOURCE_TO_PROTO: dict[TextSourceType, types_pb2.TextSourceType.ValueType] = {
    s: types_pb2.TextSourceType.Value(f"TEXT_SOURCE_TYPE_{s.name}") for s in TextSourceType
}
SOURCE_FROM_PROTO = {value: key for key, value in SOURCE_TO_PROTO.items()}
NO_SOURCE = types_pb2.TEXT_SOURCE_TYPE_UNSPECIFIED


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A protobuf timestamp of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def evidence(item: Evidence) -> q2q_pb2.EvidenceSpan:
    """The wire form of an evidence span."""
    return q2q_pb2.EvidenceSpan(
        label=LABEL_TO_PROTO[item.label],
        text=item.text,
        start_offset=item.start,
        end_offset=item.end,
        reason=item.reason,
    )


def dimension_score(value: DimensionScore) -> q2q_pb2.DimensionScore:
    """The wire form of one dimension's score."""
    return q2q_pb2.DimensionScore(
        dimension=DIMENSION_TO_PROTO[value.dimension],
        score=value.score,
        confidence=value.confidence,
    )


def labels(values: tuple[Label, ...]) -> list[q2q_pb2.Label.ValueType]:
    """The wire form of labels."""
    return [LABEL_TO_PROTO[label] for label in values]


def score_record(record: ScoreRecord) -> q2q_pb2.ScoreRecord:
    """The wire form of a stored score."""
    return q2q_pb2.ScoreRecord(
        score_id=record.score_id,
        profile_id=record.profile_id,
        source_text_id=record.source.source_id if record.source else "",
        source_text_type=SOURCE_TO_PROTO[record.source.source_type] if record.source else NO_SOURCE,
        dimension=DIMENSION_TO_PROTO[record.dimension],
        score=record.score.score,
        confidence=record.score.confidence,
        method=METHOD_TO_PROTO[record.method],
        model_version=record.model_version,
        content_hash=record.content_hash,
        labels=labels(record.labels),
        evidence=[evidence(item) for item in record.evidence],
        recorded_by=record.recorded_by,
        note=record.note,
        create_time=timestamp(record.created_at),
    )


def classify_text(request: q2q_pb2.ClassifyRequest, *, company_id: str) -> ClassifyText:
    """The command of a Classify request."""
    return ClassifyText(
        company_id=company_id,
        text=request.text,
        profile_id=request.profile_id,
        source_type=SOURCE_FROM_PROTO.get(request.source_text_type),
        source_id=request.source_text_id,
        store=request.store,
    )


def classify_response(outcome: ClassifyOutcome) -> q2q_pb2.ClassifyResponse:
    """The wire form of what Classify answers."""
    response = q2q_pb2.ClassifyResponse()
    _fill_classify_response(response, outcome)
    return response


def _fill_classify_response(response: q2q_pb2.ClassifyResponse, outcome: ClassifyOutcome) -> None:
    # Filled in place: a message passed to a constructor is copied, with everything it holds.
    response.labels.extend(LABEL_TO_PROTO[label] for label in outcome.labels)
    for item in outcome.evidence:
        response.evidence.add(
            label=LABEL_TO_PROTO[item.label],
            text=item.text,
            start_offset=item.start,
            end_offset=item.end,
            reason=item.reason,
        )
    for value in outcome.scores:
        response.scores.add(
            dimension=DIMENSION_TO_PROTO[value.dimension], score=value.score, confidence=value.confidence
        )
    response.method = METHOD_TO_PROTO[outcome.method]
    response.model_version = outcome.model_version
    response.content_hash = outcome.content_hash
    response.stored = outcome.stored
    response.screening = SCREENING_TO_PROTO[outcome.screening]


def classify_batch(request: q2q_pb2.ClassifyBatchRequest, *, company_id: str) -> list[ClassifyText]:
    """The commands of a ClassifyBatch request, one per item, in order."""
    return [
        ClassifyText(
            company_id=company_id,
            text=item.text,
            profile_id=item.profile_id,
            source_type=SOURCE_FROM_PROTO.get(item.source_text_type),
            source_id=item.source_text_id,
            store=item.store,
        )
        for item in request.items
    ]


def classify_batch_response(
    request: q2q_pb2.ClassifyBatchRequest, outcomes: list[ClassifyOutcome]
) -> q2q_pb2.ClassifyBatchResponse:
    """The wire form of what ClassifyBatch answers: each item's id and position with its outcome."""
    response = q2q_pb2.ClassifyBatchResponse()
    for index, (item, outcome) in enumerate(zip(request.items, outcomes, strict=True)):
        _fill_classify_response(response.results.add(item_id=item.item_id, index=index).result, outcome)
    return response


def list_scores(request: q2q_pb2.ListScoresRequest, *, company_id: str) -> ListScores:
    """The query of a ListScores request; unset times mean no bound."""
    where = ScoreFilter(
        profile_id=request.profile_id,
        source_id=request.source_text_id,
        source_type=SOURCE_FROM_PROTO.get(request.source_text_type),
        dimension=DIMENSION_FROM_PROTO.get(request.dimension),
        method=METHOD_FROM_PROTO.get(request.method),
        start_time=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
        end_time=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
    )
    return ListScores(company_id, where, page_size=request.page_size, page_token=request.page_token)


def record_manual_score(
    request: q2q_pb2.RecordManualScoreRequest, *, company_id: str, recorded_by: str
) -> RecordManualScore:
    """The command of a RecordManualScore request; `recorded_by` is the caller's validated subject."""
    return RecordManualScore(
        company_id=company_id,
        profile_id=request.profile_id,
        source_type=SOURCE_FROM_PROTO.get(request.source_text_type),
        source_id=request.source_text_id,
        dimension=DIMENSION_FROM_PROTO.get(request.dimension),
        score=request.score,
        note=request.note,
        recorded_by=recorded_by,
    )


def subject_exported(
    request: q2q_pb2.ExportSubjectDataRequest, records: struct_pb2.Struct, *, company_id: str
) -> AuditEntry:
    """The audit entry of a privacy export: whom it named and how many records it handed out."""
    count = sum(len(rows.list_value.values) for rows in records.fields.values())
    subject = request.subject
    return audit.subject_exported(company_id, profile_id=subject.profile_id, email=subject.email, records=count)


def subject_erased(
    request: q2q_pb2.EraseSubjectDataRequest, done: q2q_pb2.EraseSubjectDataResponse, *, company_id: str
) -> AuditEntry:
    """The audit entry of a privacy erasure: its request, whom it named, and what it found, erased and kept."""
    subject = request.subject
    return audit.subject_erased(
        company_id,
        privacy_request_id=request.privacy_request_id,
        profile_id=subject.profile_id,
        email=subject.email,
        found=done.records_found,
        erased=done.records_erased,
        retained=done.records_retained,
    )


def taxonomy_response() -> q2q_pb2.GetTaxonomyResponse:
    """The served taxonomy: dimensions, labels and scoring rules."""
    return q2q_pb2.GetTaxonomyResponse(
        version=taxonomy.TAXONOMY_VERSION,
        dimensions=[
            q2q_pb2.TaxonomyDimension(
                dimension=DIMENSION_TO_PROTO[d.dimension],
                name=d.dimension.value,
                description=d.description,
            )
            for d in taxonomy.DIMENSIONS
        ],
        labels=[_taxonomy_label(entry) for entry in taxonomy.LABELS],
        rules=[_scoring_rule(rule) for rule in scoring.RULES],
    )


def _taxonomy_label(entry: taxonomy.LabelInfo) -> q2q_pb2.TaxonomyLabel:
    return q2q_pb2.TaxonomyLabel(
        label=LABEL_TO_PROTO[entry.label],
        category=CATEGORY_TO_PROTO[entry.category],
        name=entry.name,
        description=entry.description,
        dimension=DIMENSION_TO_PROTO[entry.dimension],
    )


def _scoring_rule(rule: scoring.ScoringRule) -> q2q_pb2.ScoringRule:
    return q2q_pb2.ScoringRule(
        dimension=DIMENSION_TO_PROTO[rule.dimension],
        default_score=rule.default_score or 0.0,
        fixed_scores=[
            q2q_pb2.LabelScore(label=LABEL_TO_PROTO[label], score=value) for label, value in rule.fixed_scores
        ],
        counted_category=CATEGORY_TO_PROTO[rule.counted_category]
        if rule.counted_category
        else q2q_pb2.LABEL_CATEGORY_UNSPECIFIED,
        base_score=rule.base_score,
        step_per_label=rule.step_per_label,
        min_score=rule.min_score,
        max_score=rule.max_score,
        description=rule.description,
    )
