"""ClassifyBatch over real gRPC: each item answered as Classify answers it alone, refused whole when any item
or the batch breaks a rule (nothing stored), with Classify's access and tenancy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.kit.config import ServiceConfig
from services.kit.messaging import events
from services.kit.persistence import db
from services.kit.testing import running, tenant
from services.q2q import bootstrap
from services.q2q.domain.classification import MAX_BATCH_ITEMS, MAX_BATCH_TEXT_BYTES
from services.q2q.domain.classifier import RuleBasedClassifier
from services.q2q.settings import Q2qSettings
from services.safety import bootstrap as safety_bootstrap
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

ACME, GLOBEX = tenant("acme"), tenant("globex")
PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"
FEEDBACK = types_pb2.TEXT_SOURCE_TYPE_BUDDY_FEEDBACK
TEXTS = (
    "I feel much more confident now, and I updated my CV. Still a bit lonely though.",
    "I used to be so shy, now I am the one who asks questions.",
    "I'm a bit worried about her, she has not come to the last two sessions.",
    "Jeg føler meg mer selvsikker nå, og jeg har søkt på tre jobber.",
    "ok",
    "I don't feel confident at all and I want to quit the programme.",
    ("lonely " * 3000)[:20_000],
)


@pytest.fixture
async def q2q(service_config: ServiceConfig) -> AsyncIterator[q2q_pb2_grpc.Q2qServiceAsyncStub]:
    """Q2Q with the real Safety it screens stored texts with."""
    safety_config = service_config.model_copy(update={"var_dir": service_config.var_dir / "safety"})
    async with running(safety_bootstrap.build(safety_config)) as (safety, _):
        settings = Q2qSettings(safety_address=f"127.0.0.1:{safety.port}")
        service = bootstrap.build(service_config, settings=settings, classifier=RuleBasedClassifier())
        async with running(service) as (_, channel):
            yield q2q_pb2_grpc.Q2qServiceStub(channel)


@pytest.fixture
def stored(service_config: ServiceConfig) -> Iterator[sa.Engine]:
    """The q2q database, to count what a call kept."""
    engine = db.create_engine(db.database_url(service_config, bootstrap.NAME))
    yield engine
    engine.dispose()


def _kept(engine: sa.Engine) -> tuple[int, int]:
    """Stored classifications and pending events."""
    with db.UnitOfWork(engine).begin() as session:
        rows = session.execute(sa.text("SELECT count(*) FROM q2q_classifications")).scalar_one()
        return int(rows), len(events.pending(session))


def _item(text: str, item_id: str = "", **fields: object) -> q2q_pb2.ClassifyBatchItem:
    return q2q_pb2.ClassifyBatchItem(item_id=item_id, text=text, **fields)  # type: ignore[arg-type]


def _to_store(text: str, source_id: str, item_id: str = "") -> q2q_pb2.ClassifyBatchItem:
    return _item(text, item_id, source_text_id=source_id, source_text_type=FEEDBACK, profile_id=PROFILE, store=True)


async def _refusal(call: object) -> tuple[grpc.StatusCode, str, list[str]]:
    """The code, message and BadRequest fields of a refused call."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    status: status_pb2.Status | None = rpc_status.from_call(caught.value)
    fields: list[str] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return caught.value.code(), caught.value.details() or "", fields


async def test_every_item_is_answered_as_classify_answers_it_alone_with_the_trained_model(
    service_config: ServiceConfig,
) -> None:
    """The batch path (one model pass) and the single path give the same labels, evidence and scores."""
    async with running(bootstrap.build(service_config, settings=Q2qSettings())) as (_, channel):
        stub = q2q_pb2_grpc.Q2qServiceStub(channel)
        items = [_item(text, f"t{i}") for i, text in enumerate(TEXTS)]
        batch = await stub.ClassifyBatch(q2q_pb2.ClassifyBatchRequest(items=items), metadata=ACME)
        singles = [await stub.Classify(q2q_pb2.ClassifyRequest(text=text), metadata=ACME) for text in TEXTS]
    assert [(r.item_id, r.index) for r in batch.results] == [(f"t{i}", i) for i in range(len(TEXTS))]
    assert [r.result for r in batch.results] == singles
    assert batch.results[0].result.method == q2q_pb2.CLASSIFICATION_METHOD_AI_CLASSIFIER


async def test_items_to_store_are_screened_and_stored_as_classify_stores_them(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, stored: sa.Engine
) -> None:
    items = [_item(TEXTS[0], "a"), _to_store(TEXTS[1], "f-1", "b"), _item(TEXTS[2], "c")]
    reply = await q2q.ClassifyBatch(q2q_pb2.ClassifyBatchRequest(items=items), metadata=ACME)
    assert [r.result.stored for r in reply.results] == [False, True, False]
    assert reply.results[1].result.screening == q2q_pb2.SCREENING_OUTCOME_PASSED
    again = await q2q.Classify(
        q2q_pb2.ClassifyRequest(
            text=TEXTS[1], source_text_id="f-1", source_text_type=FEEDBACK, profile_id=PROFILE, store=True
        ),
        metadata=ACME,
    )
    first = reply.results[1].result
    assert (again.stored, again.content_hash, list(again.labels)) == (True, first.content_hash, list(first.labels))
    assert _kept(stored) == (1, 1)


@pytest.mark.parametrize(
    ("items", "fields"),
    [
        pytest.param([], ["items"], id="empty"),
        pytest.param([_item("hi")] * (MAX_BATCH_ITEMS + 1), ["items"], id="too-many-items"),
        pytest.param([_item("é" * 20_000)] * (MAX_BATCH_TEXT_BYTES // 40_000 + 1), ["items"], id="too-many-bytes"),
        pytest.param([_to_store(TEXTS[0], "f-1"), _item("  ")], ["items[1].text"], id="blank-text"),
        pytest.param(
            [_to_store(TEXTS[0], "f-1"), _item("x" * 20_001), _item("ok", profile_id="p-1")],
            ["items[1].text", "items[2].profile_id"],
            id="too-long-and-bad-profile",
        ),
        pytest.param(
            [_to_store(TEXTS[0], "f-1"), _item("ok", store=True)],
            ["items[1].source_text_id", "items[1].source_text_type"],
            id="store-without-source",
        ),
    ],
)
async def test_a_batch_breaking_a_rule_is_refused_whole_naming_the_items_and_stores_nothing(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, stored: sa.Engine, items: list[q2q_pb2.ClassifyBatchItem], fields: list[str]
) -> None:
    code, message, found = await _refusal(q2q.ClassifyBatch(q2q_pb2.ClassifyBatchRequest(items=items), metadata=ACME))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert found == fields
    assert fields[0] in message
    assert _kept(stored) == (0, 0)


FORGED = (
    (),  # no token at all
    (("x-tenant-id", "acme"),),  # a tenant header is not an identity
    (("authorization", "Bearer not-a-jwt"),),
)


@pytest.mark.parametrize("metadata", FORGED)
async def test_calls_without_a_valid_token_are_refused_and_store_nothing(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, stored: sa.Engine, metadata: tuple[tuple[str, str], ...]
) -> None:
    request = q2q_pb2.ClassifyBatchRequest(items=[_to_store(TEXTS[0], "f-1")])
    code, _, _ = await _refusal(q2q.ClassifyBatch(request, metadata=metadata))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert _kept(stored) == (0, 0)


@pytest.mark.parametrize("role", ["company_user", "participant", "volunteer"])
async def test_roles_that_may_not_classify_may_not_classify_in_batches(
    q2q: q2q_pb2_grpc.Q2qServiceAsyncStub, stored: sa.Engine, role: str
) -> None:
    request = q2q_pb2.ClassifyBatchRequest(items=[_to_store(TEXTS[0], "f-1")])
    single = q2q_pb2.ClassifyRequest(text=TEXTS[0])
    code, _, _ = await _refusal(q2q.ClassifyBatch(request, metadata=tenant("acme", role=role)))
    single_code, _, _ = await _refusal(q2q.Classify(single, metadata=tenant("acme", role=role)))
    assert code == single_code == grpc.StatusCode.PERMISSION_DENIED
    assert _kept(stored) == (0, 0)


async def test_a_batch_stores_for_the_callers_tenant_only(q2q: q2q_pb2_grpc.Q2qServiceAsyncStub) -> None:
    """A tenant header naming another company changes nothing: the token's tenant owns what is stored."""
    request = q2q_pb2.ClassifyBatchRequest(items=[_to_store(TEXTS[0], "f-1")])
    reply = await q2q.ClassifyBatch(request, metadata=(*ACME, ("x-tenant-id", "globex")))
    assert (await q2q.ListScores(q2q_pb2.ListScoresRequest(), metadata=GLOBEX)).scores == []
    acme = await q2q.ListScores(q2q_pb2.ListScoresRequest(source_text_id="f-1"), metadata=ACME)
    assert acme.scores
    assert {s.content_hash for s in acme.scores} == {reply.results[0].result.content_hash}
