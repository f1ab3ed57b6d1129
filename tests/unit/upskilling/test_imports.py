"""CSV imports of completions and credentials: versioned schemas, quarantine, file-level rejection,
duplicates inside one file and across files, and the events each import emits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.kit.connectors import csvimport, imports
from services.kit.messaging import events
from services.upskilling import handlers, queries
from services.upskilling.domain.commands import (
    GetImport,
    GetImportErrors,
    ImportRecords,
    ListCredentials,
    ListImports,
    ListProgress,
    ReceiveWebhook,
)
from services.upskilling.domain.errors import ImportNotFound, InvalidRequest
from services.upskilling.domain.model import CredentialType, ProgressStatus, Provider
from services.upskilling.repository import SqlUpskillingUnitOfWork
from teei.common.v1 import types_pb2
from tests.unit.upskilling import support

COMPLETIONS = b"provider,course_id,course_name,email,completed_at,external_id,started_at,final_score\r\n"
ROW_ADA = b"ecornell,PY101,Python Basics,Ada@Example.org,2026-03-01T09:30:00Z,u-42,2026-02-01,88.5\r\n"
ROW_BOB = b"Coursera,ml-1,Machine Learning,bob@example.org,2026-03-02,,,\r\n"
CREDENTIALS = (
    b"provider,credential_id,credential_type,email,issued_at,external_id,course_id,course_name,"
    b"expires_at,url,verification_code\n"
)
CRED_ROW = (
    b"itslearning,B-1,Badge,grace@example.org,2026-03-01,7781,MATH-2,Statistics,2028-03-01,https://x.example/b,VC-9\n"
)


def _import(uow: SqlUpskillingUnitOfWork, kind: str, data: bytes, tenant: str = "acme") -> imports.Batch:
    return handlers.import_records(ImportRecords(tenant, kind, data), uow=uow)


def _errors(uow: SqlUpskillingUnitOfWork, batch: imports.Batch) -> list[tuple[int, str]]:
    return [(e.row, e.field) for e in queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)]


def test_completions_are_stored_as_completed_progress_with_events(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    batch = _import(uow, "completions", COMPLETIONS + ROW_ADA + ROW_BOB)
    assert (batch.schema, batch.schema_version, batch.status) == ("course_completion", "1.0", imports.COMPLETED)
    assert (batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (2, 2, 0)
    records = queries.list_progress(ListProgress("acme", email="ada@example.org"), uow=uow)[0]
    [ada] = records
    assert (ada.status, ada.percent, ada.final_score) == (ProgressStatus.COMPLETED, 100.0, 88.5)
    assert (ada.learner.external_id, ada.source.batch_id) == ("u-42", batch.batch_id)
    kinds = [(e.type, events.payload_of(e).provenance.import_batch_id) for e in support.pending(engine)]
    assert [k for k, _ in kinds] == ["upskilling.progress.updated", "upskilling.course.completed"] * 2
    assert {b for _, b in kinds} == {batch.batch_id}
    assert events.payload_of(support.pending(engine)[0]).provenance.channel == types_pb2.INGEST_CHANNEL_CSV_IMPORT


def test_completion_schema_v1_1_is_chosen_by_its_header(uow: SqlUpskillingUnitOfWork) -> None:
    header = COMPLETIONS.rstrip(b"\r\n") + b",percent_complete,course_url,metadata\n"
    row = ROW_BOB.rstrip(b"\r\n") + b',95,https://c.example/ml,"{""cohort"": 3}"\n'
    batch = _import(uow, "completions", header + row)
    assert batch.schema_version == "1.1"
    [record] = queries.list_progress(ListProgress("acme"), uow=uow)[0]
    assert (record.course.provider, record.course.provider_name) == (Provider.GENERIC, "coursera")
    assert (record.percent, record.course.course_url, record.metadata) == (95.0, "https://c.example/ml", {"cohort": 3})


def test_credentials_are_stored_and_announced(uow: SqlUpskillingUnitOfWork, engine: sa.Engine) -> None:
    batch = _import(uow, "credentials", CREDENTIALS + CRED_ROW)
    assert (batch.schema, batch.rows_stored) == ("credential", 1)
    [credential] = queries.list_credentials(ListCredentials("acme"), uow=uow)[0]
    assert (credential.credential_type, credential.verification_code) == (CredentialType.BADGE, "VC-9")
    assert credential.expires_at is not None
    assert credential.expires_at.year == 2028
    assert support.pending_types(engine) == ["upskilling.credential.issued"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (COMPLETIONS, "no rows"),
        (b"provider,course,email\nx,y,z@x.org\n", "unknown header"),
        (COMPLETIONS.replace(b",", b";") + ROW_ADA.replace(b",", b";"), "delimiter"),
        (COMPLETIONS + b"ecornell,PY1,\xe9t\xe9,a@b.org,2026-01-01,,,\n", "not UTF-8"),
        (CREDENTIALS + CRED_ROW, "unknown header"),
    ],
)
def test_file_level_faults_reject_the_file_and_store_nothing(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine, data: bytes, message: str
) -> None:
    with pytest.raises(csvimport.CsvRejected, match=message):
        _import(uow, "completions", data)
    assert queries.list_imports(ListImports("acme"), uow=uow) == ([], "")
    assert support.pending_types(engine) == []


def test_a_file_over_the_size_limit_is_rejected(uow: SqlUpskillingUnitOfWork) -> None:
    with pytest.raises(csvimport.CsvRejected, match="larger"):
        _import(uow, "completions", COMPLETIONS + ROW_ADA * (csvimport.MAX_BYTES // len(ROW_ADA) + 1))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (b"ecornell,PY101,Python,not-an-email,2026-03-01,,,\n", "email"),
        (b"ecornell,PY101,Python,a@b.org,2026-03-01,,,100.5\n", "final_score"),
        (b"ecornell,PY101,Python,a@b.org,2026-03-01,,,-1\n", "final_score"),
        (b"ecornell," + b"x" * 256 + b",Python,a@b.org,2026-03-01,,,\n", "course_id"),
        (b"ecornell,PY101,Python,a@b.org,last tuesday,,,\n", "completed_at"),
        (b"ecornell,PY101,Python,a@b.org,2026-03-01,,2026-03-05,\n", "completed_at"),
        (b",PY101,Python,a@b.org,2026-03-01,,,\n", "provider"),
        (b"ecornell,PY101,Python,a@b.org\n", "*"),
    ],
)
def test_invalid_rows_are_quarantined_and_valid_ones_kept(uow: SqlUpskillingUnitOfWork, row: bytes, field: str) -> None:
    batch = _import(uow, "completions", COMPLETIONS + ROW_ADA + row)
    assert (batch.status, batch.rows_stored, batch.rows_quarantined) == (imports.COMPLETED_WITH_ERRORS, 1, 1)
    assert _errors(uow, batch) == [(3, field)]


def test_out_of_range_percent_is_quarantined(uow: SqlUpskillingUnitOfWork) -> None:
    header = COMPLETIONS.rstrip(b"\r\n") + b",percent_complete,course_url,metadata\n"
    batch = _import(uow, "completions", header + ROW_BOB.rstrip(b"\r\n") + b",101,,\n")
    assert _errors(uow, batch) == [(2, "percent_complete")]


def test_credentials_with_bad_type_or_expiry_before_issue_are_quarantined(uow: SqlUpskillingUnitOfWork) -> None:
    bad_type = CRED_ROW.replace(b"Badge", b"trophy").replace(b"B-1", b"B-2")
    bad_expiry = CRED_ROW.replace(b"2028-03-01", b"2025-01-01").replace(b"B-1", b"B-3")
    batch = _import(uow, "credentials", CREDENTIALS + CRED_ROW + bad_type + bad_expiry)
    assert _errors(uow, batch) == [(3, "credential_type"), (4, "expires_at")]


def test_a_record_repeated_in_one_file_is_quarantined_after_its_first_row(uow: SqlUpskillingUnitOfWork) -> None:
    repeat = ROW_ADA.replace(b"88.5", b"91").replace(b"Ada@", b"ada@")
    batch = _import(uow, "completions", COMPLETIONS + ROW_ADA + ROW_BOB + repeat)
    assert (batch.rows_stored, batch.rows_quarantined) == (2, 1)
    [error] = queries.get_import_errors(GetImportErrors("acme", batch.batch_id), uow=uow)
    assert (error.row, error.field) == (4, "course_id")
    assert "first at row 2" in error.message


def test_an_identical_reimport_changes_nothing_and_emits_nothing(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _import(uow, "completions", COMPLETIONS + ROW_ADA)
    _import(uow, "credentials", CREDENTIALS + CRED_ROW)
    before = (support.pending_types(engine), queries.list_progress(ListProgress("acme"), uow=uow)[0][0])
    again = _import(uow, "completions", COMPLETIONS + ROW_ADA)
    _import(uow, "credentials", CREDENTIALS + CRED_ROW)
    assert again.rows_stored == 1
    after = (support.pending_types(engine), queries.list_progress(ListProgress("acme"), uow=uow)[0][0])
    assert after == before


def test_a_changed_reimport_updates_the_record_without_a_second_completion_event(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _import(uow, "completions", COMPLETIONS + ROW_ADA)
    events_before = support.pending_types(engine)
    _import(uow, "completions", COMPLETIONS + ROW_ADA.replace(b"88.5", b"93"))
    [record] = queries.list_progress(ListProgress("acme"), uow=uow)[0]
    assert record.final_score == 93
    assert support.pending_types(engine) == events_before


def test_a_csv_completion_completes_a_course_started_by_webhook_once(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    handlers.receive_webhook(
        ReceiveWebhook("acme", "ecornell", support.body(support.ecornell("course.started"))), uow=uow
    )
    _import(uow, "completions", COMPLETIONS + ROW_ADA)
    [record] = queries.list_progress(ListProgress("acme"), uow=uow)[0]
    assert record.status is ProgressStatus.COMPLETED
    assert support.pending_types(engine).count("upskilling.course.completed") == 1


def test_an_unknown_kind_is_refused_naming_the_field(uow: SqlUpskillingUnitOfWork) -> None:
    with pytest.raises(InvalidRequest) as refused:
        _import(uow, "sessions", COMPLETIONS + ROW_ADA)
    assert [v.field for v in refused.value.violations] == ["kind"]


def test_batches_are_listed_newest_first_and_hidden_from_other_companies(uow: SqlUpskillingUnitOfWork) -> None:
    first = _import(uow, "completions", COMPLETIONS + ROW_ADA)
    second = _import(uow, "credentials", CREDENTIALS + CRED_ROW)
    batches, token = queries.list_imports(ListImports("acme", page_size=1), uow=uow)
    assert [b.batch_id for b in batches] == [second.batch_id]
    rest, last = queries.list_imports(ListImports("acme", page_size=1, page_token=token), uow=uow)
    assert ([b.batch_id for b in rest], last) == ([first.batch_id], "")
    assert queries.list_imports(ListImports("globex"), uow=uow) == ([], "")
    with pytest.raises(ImportNotFound):
        queries.get_import(GetImport("globex", first.batch_id), uow=uow)
    with pytest.raises(ImportNotFound):
        queries.get_import_errors(GetImportErrors("globex", first.batch_id), uow=uow)


def test_a_changed_credential_reimport_updates_it_without_a_second_announcement(
    uow: SqlUpskillingUnitOfWork, engine: sa.Engine
) -> None:
    _import(uow, "credentials", CREDENTIALS + CRED_ROW)
    batch = _import(uow, "credentials", CREDENTIALS + CRED_ROW.replace(b"https://x.example/b", b"https://x.example/v2"))
    [credential] = queries.list_credentials(ListCredentials("acme"), uow=uow)[0]
    assert (credential.url, credential.source.batch_id) == ("https://x.example/v2", batch.batch_id)
    assert support.pending_types(engine) == ["upskilling.credential.issued"]


def test_a_credential_url_that_is_not_http_is_quarantined(uow: SqlUpskillingUnitOfWork) -> None:
    batch = _import(uow, "credentials", CREDENTIALS + CRED_ROW.replace(b"https://x.example/b", b"javascript:alert(1)"))
    assert _errors(uow, batch) == [(2, "url")]
