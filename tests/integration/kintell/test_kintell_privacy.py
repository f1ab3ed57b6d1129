"""Kintell's privacy RPCs over real gRPC: export of one person's sessions, erasure that keeps the other
person's side of a shared session, company scoping, and the e-mail gone from the database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeAlias

import grpc
import pytest
import sqlalchemy as sa
from google.api import httpbody_pb2
from google.protobuf import json_format

from services.kintell import bootstrap
from services.kintell.tables import sessions
from services.kit.config import ServiceConfig
from services.kit.persistence import db, subjects
from services.kit.testing import running, tenant
from teei.common.v1 import types_pb2
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc
from tests.unit.kintell.samples import LANGUAGE_V1_0, csv, language_row

OPERATOR = tenant("acme", role="super_admin", subject="op-1")
GLOBEX = tenant("globex", role="super_admin", subject="op-2")
Stub: TypeAlias = "kintell_pb2_grpc.KintellServiceAsyncStub"


@pytest.fixture
async def kintell(service_config: ServiceConfig) -> AsyncIterator[Stub]:
    """A typed stub to the real Kintell connector, with two sessions of Ada and one of Bo imported for acme."""
    async with running(bootstrap.build(service_config)) as (_, channel):
        stub = kintell_pb2_grpc.KintellServiceStub(channel)
        data = csv(
            LANGUAGE_V1_0,
            language_row("k-1", participant_email="ada@example.org", volunteer_email="vol@corp.com"),
            language_row("k-2", participant_email="Ada@Example.org", volunteer_email="vol2@corp.com"),
            language_row("k-3", participant_email="bo@example.org", volunteer_email="vol@corp.com"),
        )
        body = httpbody_pb2.HttpBody(content_type="text/csv", data=data)
        await stub.ImportSessions(kintell_pb2.ImportSessionsRequest(body=body), metadata=OPERATOR)
        yield stub


def _subject(email: str) -> types_pb2.DataSubject:
    return types_pb2.DataSubject(email=email)


async def test_export_returns_only_the_subjects_sessions(kintell: Stub) -> None:
    answer = await kintell.ExportSubjectData(
        kintell_pb2.ExportSubjectDataRequest(subject=_subject(" ADA@example.org ")), metadata=OPERATOR
    )
    records = json_format.MessageToDict(answer.records)
    ids = sorted(r["external_session_id"] for r in records["kintell_sessions"])
    assert ids == ["k-1", "k-2"]
    assert "bo@example.org" not in str(records)


async def test_export_of_another_company_finds_nothing(kintell: Stub) -> None:
    answer = await kintell.ExportSubjectData(
        kintell_pb2.ExportSubjectDataRequest(subject=_subject("ada@example.org")), metadata=GLOBEX
    )
    assert json_format.MessageToDict(answer.records) == {}


async def test_erase_deletes_own_sessions_and_anonymises_shared_ones(
    kintell: Stub, service_config: ServiceConfig
) -> None:
    erase = kintell_pb2.EraseSubjectDataRequest(subject=_subject("ada@example.org"), privacy_request_id="pr-1")
    done = await kintell.EraseSubjectData(erase, metadata=OPERATOR)
    # Two sessions anonymised. The outbox envelopes that announced them hold Ada's e-mail sealed with her
    # events key, which the erasure workflow destroys (services/kit/messaging/sealed_events.py).
    assert (done.records_found, done.records_erased) == (2, 2)
    again = await kintell.EraseSubjectData(erase, metadata=OPERATOR)
    assert (again.records_found, again.records_erased) == (0, 0)
    volunteer = await kintell.ExportSubjectData(
        kintell_pb2.ExportSubjectDataRequest(subject=_subject("vol@corp.com")), metadata=OPERATOR
    )
    kept = json_format.MessageToDict(volunteer.records)["kintell_sessions"]
    assert sorted(r["external_session_id"] for r in kept) == ["k-1", "k-3"]
    shared = next(r for r in kept if r["external_session_id"] == "k-1")
    # The volunteer's copy never shows the participant's side (erased or not); the stored row has it blank.
    assert (shared["participant_email"], shared["feedback_text"]) == (subjects.WITHHELD, subjects.WITHHELD)
    assert shared["volunteer_email"] == "vol@corp.com"
    assert _stored_participant(service_config, "k-1") == ("", "")
    assert not _files_naming(Path(service_config.var_dir), b"ada@example.org")


def _stored_participant(config: ServiceConfig, session_id: str) -> tuple[str, str]:
    """The participant's profile id and feedback text of a session as stored."""
    engine = db.create_engine(db.database_url(config, "kintell"))
    try:
        with engine.connect() as connection:
            query = sa.select(sessions.c.participant_profile_id, sessions.c.feedback_text)
            row = connection.execute(query.where(sessions.c.external_session_id == session_id)).one()
    finally:
        engine.dispose()
    return row[0] or "", row[1] or ""


def _files_naming(folder: Path, needle: bytes) -> list[Path]:
    """Database files (and their write-ahead logs) whose raw bytes contain `needle`."""
    return [f for f in folder.rglob("*.db*") if needle in f.read_bytes().lower()]


async def test_erase_needs_a_request_id_and_a_subject(kintell: Stub) -> None:
    for request in (
        kintell_pb2.EraseSubjectDataRequest(subject=_subject("ada@example.org")),
        kintell_pb2.EraseSubjectDataRequest(privacy_request_id="pr-1"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await kintell.EraseSubjectData(request, metadata=OPERATOR)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_erase_is_refused_to_a_company_admin(kintell: Stub) -> None:
    request = kintell_pb2.EraseSubjectDataRequest(subject=_subject("ada@example.org"), privacy_request_id="pr-1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await kintell.EraseSubjectData(request, metadata=tenant("acme"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_erase_on_postgresql_rewrites_the_touched_tables(
    service_config: ServiceConfig, postgres_url: str
) -> None:
    """On PostgreSQL the erasure commits, then rewrites the tables it touched (VACUUM FULL outside it)."""
    engine = db.create_engine(postgres_url)
    db.upgrade(postgres_url, bootstrap.MIGRATIONS)
    try:
        async with running(bootstrap.build(service_config, engine=engine)) as (_, channel):
            stub = kintell_pb2_grpc.KintellServiceStub(channel)
            data = csv(LANGUAGE_V1_0, language_row("k-1", participant_email="ada@example.org"))
            body = httpbody_pb2.HttpBody(content_type="text/csv", data=data)
            await stub.ImportSessions(kintell_pb2.ImportSessionsRequest(body=body), metadata=OPERATOR)
            erase = kintell_pb2.EraseSubjectDataRequest(subject=_subject("ada@example.org"), privacy_request_id="pr-9")
            done = await stub.EraseSubjectData(erase, metadata=OPERATOR)
            export = await stub.ExportSubjectData(
                kintell_pb2.ExportSubjectDataRequest(subject=_subject("ada@example.org")), metadata=OPERATOR
            )
    finally:
        engine.dispose()
    assert (done.records_found, done.records_erased) == (1, 1)  # the outbox envelope is sealed, not matched
    assert not export.records.fields
