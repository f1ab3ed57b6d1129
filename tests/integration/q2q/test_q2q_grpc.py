"""The Q2Q service over real gRPC: taxonomy, classify (stored once per source), listing, manual scores, tenancy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2

from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import running, tenant
from services.q2q import bootstrap
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.settings import Q2qSettings
from services.safety import bootstrap as safety_bootstrap
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

ACME, GLOBEX = tenant("acme"), tenant("globex")
PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_PROFILE = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
FEEDBACK = types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK
TEXT = "I feel much more confident now, and I updated my CV. Still a bit lonely though."


@pytest.fixture
async def q2q(service_config: ServiceConfig) -> AsyncIterator[q2q_pb2_grpc.Q2qServiceAsyncStub]:
    """Q2Q with the real Safety it screens stored texts with (services/q2q/screening)."""
    safety_config = service_config.model_copy(update={"var_dir": service_config.var_dir / "safety"})
    async with running(safety_bootstrap.build(safety_config)) as (safety, _):
        settings = Q2qSettings(safety_address=f"127.0.0.1:{safety.port}")
        service = bootstrap.build(service_config, settings=settings, classifier=RuleBasedClassifier())
        async with running(service) as (_, channel):
            yield q2q_pb2_grpc.Q2qServiceStub(channel)


Outbox = Callable[[], list[events.Envelope]]


async def test_the_service_classifies_with_the_shipped_trained_model_by_default(service_config: ServiceConfig) -> None:
    """Without a classifier given, Q2Q scores with services/q2q/model and says so in every answer."""
    async with running(bootstrap.build(service_config, settings=Q2qSettings())) as (_, channel):
        reply = await q2q_pb2_grpc.Q2qServiceStub(channel).Classify(
            q2q_pb2.ClassifyRequest(text="I used to be so shy, now I am the one who asks questions."), metadata=ACME
        )
    assert reply.method == q2q_pb2.CLASSIFICATION_METHOD_AI_CLASSIFIER
    assert reply.model_version.startswith("q2q-linear-")
    assert q2q_pb2.LABEL_CONFIDENCE_INCREASE in reply.labels
    assert q2q_pb2.LABEL_CONFIDENCE_DECREASE not in reply.labels


@pytest.fixture
def outbox(service_config: ServiceConfig) -> Iterator[Outbox]:
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))

    def read() -> list[events.Envelope]:
        with db.UnitOfWork(engine).begin() as session:
            return events.pending(session)

    yield read
    engine.dispose()


def _store(text: str = TEXT, source_id: str = "f-1", profile_id: str = PROFILE) -> q2q_pb2.ClassifyRequest:
    return q2q_pb2.ClassifyRequest(
        text=text, source_text_id=source_id, source_text_type=FEEDBACK, profile_id=profile_id, store=True
    )


async def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    code: grpc.StatusCode = caught.value.code()
    return code


async def test_taxonomy_lists_dimensions_labels_and_rules(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    taxonomy = await q2q.GetTaxonomy(q2q_pb2.GetTaxonomyRequest(), metadata=ACME)
    assert [d.name for d in taxonomy.dimensions] == [
        "confidence", "belonging", "lang_level_proxy", "job_readiness", "well_being",
    ]  # fmt: skip
    assert len(taxonomy.labels) == 23
    rules = {rule.dimension: rule for rule in taxonomy.rules}
    assert rules[q2q_pb2.DIMENSION_JOB_READINESS].step_per_label == pytest.approx(0.15)
    assert [f.score for f in rules[q2q_pb2.DIMENSION_CONFIDENCE].fixed_scores] == [0.2, 0.8]


async def test_classify_on_demand_returns_labels_evidence_and_scores_without_storing(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, outbox: Outbox
) -> None:
    reply = await q2q.Classify(q2q_pb2.ClassifyRequest(text=TEXT), metadata=ACME)
    assert set(reply.labels) == {
        q2q_pb2.LABEL_CONFIDENCE_INCREASE,
        q2q_pb2.LABEL_EMPLOYABILITY_RESUME_IMPROVEMENT,
        q2q_pb2.LABEL_RISK_ISOLATION,
    }
    assert all(TEXT[e.start_offset : e.end_offset] == e.text for e in reply.evidence)
    scores = {s.dimension: s.score for s in reply.scores}
    assert scores[q2q_pb2.DIMENSION_CONFIDENCE] == pytest.approx(0.8)
    assert scores[q2q_pb2.DIMENSION_JOB_READINESS] == pytest.approx(0.45)
    assert scores[q2q_pb2.DIMENSION_WELL_BEING] == pytest.approx(0.75)
    assert reply.method == q2q_pb2.CLASSIFICATION_METHOD_RULE_BASED
    assert reply.model_version == "rules-1.0.0"
    assert len(reply.content_hash) == 64
    assert not reply.stored
    assert outbox() == []


async def test_storing_twice_returns_the_stored_result_and_emits_once(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, outbox: Outbox
) -> None:
    first = await q2q.Classify(_store(), metadata=ACME)
    again = await q2q.Classify(_store(), metadata=ACME)
    assert first.stored
    assert again.stored
    assert list(again.labels) == list(first.labels)
    assert sorted(s.dimension for s in again.scores) == sorted(s.dimension for s in first.scores)
    assert sorted((e.start_offset, e.label) for e in again.evidence) == sorted(
        (e.start_offset, e.label) for e in first.evidence
    )
    (event,) = outbox()
    assert event.type == "q2q.scores.computed"
    assert await _code(q2q.Classify(_store(text="Different text."), metadata=ACME)) == grpc.StatusCode.ABORTED


@pytest.mark.parametrize(
    "request_",
    [
        q2q_pb2.ClassifyRequest(text=""),
        q2q_pb2.ClassifyRequest(text="   "),
        q2q_pb2.ClassifyRequest(text="x" * 20_001),
        q2q_pb2.ClassifyRequest(text="ok", store=True, source_text_type=FEEDBACK),
        q2q_pb2.ClassifyRequest(text="ok", store=True, source_text_id="f-1"),
        q2q_pb2.ClassifyRequest(text="ok", profile_id="not-a-uuid"),
        q2q_pb2.ClassifyRequest(text="ok", store=True, source_text_id="x" * 256, source_text_type=FEEDBACK),
    ],
)
async def test_malformed_or_oversized_classify_is_invalid_argument(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, request_: q2q_pb2.ClassifyRequest
) -> None:
    assert await _code(q2q.Classify(request_, metadata=ACME)) == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_longest_allowed_text_is_classified(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    reply = await q2q.Classify(q2q_pb2.ClassifyRequest(text=("lonely " * 3000)[:20_000]), metadata=ACME)
    assert list(reply.labels) == [q2q_pb2.LABEL_RISK_ISOLATION]


async def test_calls_without_a_tenant_are_refused(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    assert await _code(q2q.Classify(q2q_pb2.ClassifyRequest(text="hi"))) == grpc.StatusCode.UNAUTHENTICATED
    assert await _code(q2q.ListScores(q2q_pb2.ListScoresRequest())) == grpc.StatusCode.UNAUTHENTICATED
    assert await _code(q2q.GetTaxonomy(q2q_pb2.GetTaxonomyRequest())) == grpc.StatusCode.UNAUTHENTICATED


async def test_scores_are_invisible_to_another_tenant(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    await q2q.Classify(_store(), metadata=ACME)
    assert (await q2q.ListScores(q2q_pb2.ListScoresRequest(), metadata=GLOBEX)).scores == []
    other = await q2q.Classify(_store(text="Other company, same source id."), metadata=GLOBEX)
    assert other.stored
    acme = await q2q.ListScores(q2q_pb2.ListScoresRequest(source_text_id="f-1"), metadata=ACME)
    assert {s.content_hash for s in acme.scores} == {(await q2q.Classify(_store(), metadata=ACME)).content_hash}


async def test_list_filters_by_profile_and_pages_with_a_token(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    for n in range(3):
        await q2q.Classify(_store(source_id=f"f-{n}"), metadata=ACME)
    await q2q.Classify(_store(source_id="other", profile_id=OTHER_PROFILE), metadata=ACME)
    seen, token = [], ""
    while True:
        page = await q2q.ListScores(
            q2q_pb2.ListScoresRequest(profile_id=PROFILE, page_size=5, page_token=token), metadata=ACME
        )
        assert len(page.scores) <= 5
        seen += [s.score_id for s in page.scores]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 12  # 3 texts x 4 dimensions (no language signal)
    only_well_being = await q2q.ListScores(
        q2q_pb2.ListScoresRequest(profile_id=PROFILE, dimension=q2q_pb2.DIMENSION_WELL_BEING), metadata=ACME
    )
    assert len(only_well_being.scores) == 3
    future = timestamp_pb2.Timestamp(seconds=4_102_444_800)  # 2100-01-01
    later = await q2q.ListScores(q2q_pb2.ListScoresRequest(start_time=future), metadata=ACME)
    earlier = await q2q.ListScores(q2q_pb2.ListScoresRequest(end_time=future, page_size=100), metadata=ACME)
    assert later.scores == []
    assert len(earlier.scores) == 16
    record = only_well_being.scores[0]
    assert record.method == q2q_pb2.CLASSIFICATION_METHOD_RULE_BASED
    assert record.source_text_type == FEEDBACK
    assert [e.label for e in record.evidence] == [q2q_pb2.LABEL_RISK_ISOLATION]


async def test_page_size_is_capped_and_bad_input_is_refused(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    for n in range(30):
        await q2q.Classify(_store(source_id=f"f-{n}"), metadata=ACME)
    page = await q2q.ListScores(q2q_pb2.ListScoresRequest(page_size=1000), metadata=ACME)
    assert len(page.scores) == 100
    assert page.next_page_token
    for bad in (
        q2q_pb2.ListScoresRequest(page_token="not-a-token"),
        q2q_pb2.ListScoresRequest(page_size=-1),
        q2q_pb2.ListScoresRequest(profile_id="../x"),
    ):
        assert await _code(q2q.ListScores(bad, metadata=ACME)) == grpc.StatusCode.INVALID_ARGUMENT


def _manual(**fields: object) -> q2q_pb2.RecordManualScoreRequest:
    values: dict[str, object] = {
        "profile_id": PROFILE, "dimension": q2q_pb2.DIMENSION_BELONGING, "score": 0.7, "note": "Coordinator interview",
    }  # fmt: skip
    values.update(fields)
    return q2q_pb2.RecordManualScoreRequest(**values)  # type: ignore[arg-type]


async def test_manual_scores_are_stored_once_and_announced(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, outbox: Outbox
) -> None:
    first = (await q2q.RecordManualScore(_manual(), metadata=ACME)).score
    assert first.method == q2q_pb2.CLASSIFICATION_METHOD_MANUAL
    assert first.confidence == 1.0
    again = (await q2q.RecordManualScore(_manual(), metadata=ACME)).score
    assert again.score_id == first.score_id
    (event,) = outbox()
    assert event.type == "q2q.scores.computed"
    listed = await q2q.ListScores(q2q_pb2.ListScoresRequest(method=q2q_pb2.CLASSIFICATION_METHOD_MANUAL), metadata=ACME)
    assert [s.score_id for s in listed.scores] == [first.score_id]
    assert (await q2q.ListScores(q2q_pb2.ListScoresRequest(), metadata=GLOBEX)).scores == []


@pytest.mark.parametrize(
    "fields",
    [
        {"profile_id": ""},
        {"profile_id": "nope"},
        {"dimension": q2q_pb2.DIMENSION_UNSPECIFIED},
        {"score": 1.5},
        {"score": float("nan")},
        {"note": ""},
        {"note": "x" * 2001},
        {"source_text_id": "f-1"},
    ],
)
async def test_invalid_manual_scores_are_refused(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, fields: dict[str, object]
) -> None:
    assert await _code(q2q.RecordManualScore(_manual(**fields), metadata=ACME)) == grpc.StatusCode.INVALID_ARGUMENT


async def test_privacy_rpcs_refuse_a_subject_naming_no_one(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    export = q2q.ExportSubjectData(q2q_pb2.ExportSubjectDataRequest(), metadata=ACME)
    assert await _code(export) == grpc.StatusCode.INVALID_ARGUMENT
    erase = q2q.EraseSubjectData(
        q2q_pb2.EraseSubjectDataRequest(privacy_request_id="r1"), metadata=tenant("acme", role="super_admin")
    )
    assert await _code(erase) == grpc.StatusCode.INVALID_ARGUMENT
    denied = q2q.EraseSubjectData(q2q_pb2.EraseSubjectDataRequest(), metadata=ACME)
    assert await _code(denied) == grpc.StatusCode.PERMISSION_DENIED


async def test_evidence_is_stored_once_per_snippet(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, service_config: ServiceConfig
) -> None:
    await q2q.Classify(_store(text="I feel lonely.", source_id="a"), metadata=ACME)
    await q2q.Classify(_store(text="Today I feel lonely.", source_id="b"), metadata=ACME)
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))
    try:
        with engine.connect() as connection:
            snippets = connection.execute(sa.text("SELECT count(*) FROM q2q_evidence")).scalar_one()
            links = connection.execute(sa.text("SELECT count(*) FROM q2q_score_evidence")).scalar_one()
    finally:
        engine.dispose()
    assert (snippets, links) == (1, 2)
