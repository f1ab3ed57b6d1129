"""Q2Q's audit log over real gRPC: a manual score, a privacy export and a privacy erasure each append one
record naming the subject of the caller's validated token, whatever headers claim; classifying a text
appends none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from services.kit.audit.tables import records
from services.kit.config import ServiceConfig
from services.kit.testing import running, tenant
from services.q2q import bootstrap
from teei.common.v1 import types_pb2
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

ANA = tenant("acme", subject="ana@acme.example")
OPERATOR = tenant("acme", role="super_admin", subject="ops@teei.example")
# Headers an edge or a caller might add to claim an identity; only the validated token names the actor.
FORGED = (("x-teei-principal", "mallory@acme.example"), ("x-user-id", "mallory@acme.example"))
PROFILE = "0f8fad5b-d9cb-469f-a165-70867728950e"
MANUAL = q2q_pb2.RecordManualScoreRequest(
    profile_id=PROFILE, dimension=q2q_pb2.DIMENSION_BELONGING, score=0.7, note="Coordinator interview"
)


@pytest.fixture
async def q2q(service_config: ServiceConfig) -> AsyncIterator[tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine]]:
    """Q2Q serving, and the engine of its database to read the audit log from."""
    service = bootstrap.build(service_config)
    assert service.engine is not None
    async with running(service) as (_, channel):
        yield q2q_pb2_grpc.Q2qServiceStub(channel), service.engine


def _audited(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(records).order_by(records.c.sequence)))


async def test_a_manual_score_is_recorded_under_the_token_subject(
    q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine],
) -> None:
    stub, engine = q2q
    score = (await stub.RecordManualScore(MANUAL, metadata=(*ANA, *FORGED))).score
    (row,) = _audited(engine)
    assert (row.actor, row.actor_kind, row.tenant, row.action, row.resource, row.outcome) == (
        "ana@acme.example", "token", "acme", "manual_score.recorded", f"score:{score.score_id}", "success",
    )  # fmt: skip
    assert json.loads(row.diff)["after"] == {
        "profile_id": PROFILE, "dimension": "belonging", "score": 0.7, "method": "manual",
        "source_type": None, "source_id": None,
    }  # fmt: skip
    assert score.recorded_by == "ana@acme.example"


async def test_a_repeated_manual_score_records_nothing_more(
    q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine],
) -> None:
    stub, engine = q2q
    first = (await stub.RecordManualScore(MANUAL, metadata=ANA)).score
    again = (await stub.RecordManualScore(MANUAL, metadata=ANA)).score
    assert again.score_id == first.score_id
    assert [row.action for row in _audited(engine)] == ["manual_score.recorded"]


async def test_a_privacy_export_is_recorded_with_what_it_handed_out(
    q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine],
) -> None:
    stub, engine = q2q
    await stub.RecordManualScore(MANUAL, metadata=ANA)
    subject = types_pb2.DataSubject(profile_id=PROFILE)
    await stub.ExportSubjectData(q2q_pb2.ExportSubjectDataRequest(subject=subject), metadata=(*ANA, *FORGED))
    row = _audited(engine)[-1]
    assert (row.actor, row.tenant, row.action, row.resource) == (
        "ana@acme.example", "acme", "subject.exported", f"subject:{PROFILE}",
    )  # fmt: skip
    assert json.loads(row.diff)["after"] == {"profile_id": PROFILE, "email": "", "records": 1}


async def test_an_export_by_e_mail_keeps_the_address_out_of_the_log(
    q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine],
) -> None:
    stub, engine = q2q
    subject = types_pb2.DataSubject(email="ana.person@example.org")
    await stub.ExportSubjectData(q2q_pb2.ExportSubjectDataRequest(subject=subject), metadata=ANA)
    (row,) = _audited(engine)
    assert (row.action, row.resource) == ("subject.exported", "subject:-")
    assert json.loads(row.diff)["after"]["email"] == "[redacted]"
    assert "ana.person@example.org" not in repr(tuple(row))


async def test_a_privacy_erasure_is_recorded_under_its_request(
    q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine],
) -> None:
    stub, engine = q2q
    await stub.RecordManualScore(MANUAL, metadata=ANA)
    request = q2q_pb2.EraseSubjectDataRequest(
        subject=types_pb2.DataSubject(profile_id=PROFILE), privacy_request_id="request-42"
    )
    done = await stub.EraseSubjectData(request, metadata=(*OPERATOR, *FORGED))
    row = _audited(engine)[-1]
    assert (row.actor, row.tenant, row.action, row.resource) == (
        "ops@teei.example", "acme", "subject.erased", "privacy_request:request-42",
    )  # fmt: skip
    after = json.loads(row.diff)["after"]
    assert after == {
        "profile_id": PROFILE, "email": "", "found": done.records_found, "erased": done.records_erased,
        "retained": done.records_retained,
    }  # fmt: skip
    assert done.records_erased >= 1


async def test_classifying_a_text_records_nothing(q2q: tuple[q2q_pb2_grpc.Q2qServiceAsyncStub, sa.Engine]) -> None:
    stub, engine = q2q
    await stub.Classify(q2q_pb2.ClassifyRequest(text="I feel much more confident now."), metadata=ANA)
    assert _audited(engine) == []
