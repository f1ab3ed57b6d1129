"""The upskilling connector over real gRPC in-process: webhooks, imports, reads, errors and tenancy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.api import httpbody_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.cli import audit as audit_cli
from services.kit.config import ServiceConfig
from services.kit.persistence import db
from services.kit.testing import running, tenant
from services.upskilling import bootstrap
from teei.common.v1 import types_pb2
from teei.upskilling.v1 import upskilling_pb2 as pb
from teei.upskilling.v1 import upskilling_pb2_grpc
from tests.integration.upskilling.signing import provision_all, signed_as
from tests.unit.kit.audit.support import stored
from tests.unit.upskilling import support

ACME, GLOBEX = tenant("acme"), tenant("globex")
if TYPE_CHECKING:
    Stub = upskilling_pb2_grpc.UpskillingServiceAsyncStub
COMPLETIONS = (
    b"provider,course_id,course_name,email,completed_at,external_id,started_at,final_score\n"
    b"ecornell,PY101,Python,ada@example.org,2026-03-01,u-42,,77\n"
    b"ecornell,PY102,Python 2,not-an-email,2026-03-01,,,\n"
)


@pytest.fixture
async def stub(service_config: ServiceConfig) -> AsyncIterator[Stub]:
    """A typed stub to the real upskilling service, served in-process on a temporary SQLite database;
    each test tenant holds a webhook secret per provider."""
    provision_all(service_config.var_dir)
    async with running(bootstrap.build(service_config)) as (_, channel):
        yield upskilling_pb2_grpc.UpskillingServiceStub(channel)


def _webhook(provider: str, data: dict[str, Any] | bytes) -> pb.ReceiveWebhookRequest:
    raw = data if isinstance(data, bytes) else support.body(data)
    return pb.ReceiveWebhookRequest(
        provider=provider, body=httpbody_pb2.HttpBody(content_type="application/json", data=raw)
    )


def _signed(request: pb.ReceiveWebhookRequest, tenant: str = "acme", message_id: str | None = None) -> Any:
    """Call metadata of `tenant` delivering `request` signed with its secret for the request's provider."""
    return signed_as(tenant, request.provider, request.body.data, message_id=message_id)


async def _deliver(stub: Stub, request: pb.ReceiveWebhookRequest, tenant: str = "acme") -> pb.ReceiveWebhookResponse:
    response: pb.ReceiveWebhookResponse = await stub.ReceiveWebhook(request, metadata=_signed(request, tenant))
    return response


async def _error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def _violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


async def test_a_webhook_is_acknowledged_stored_and_readable(stub: Stub) -> None:
    request = _webhook("ecornell", support.ecornell("course.completed"))
    ack = (await stub.ReceiveWebhook(request, metadata=_signed(request, message_id="msg_ec_1"))).ack
    assert (ack.delivery_id, ack.duplicate) == ("msg_ec_1", False)
    listed = await stub.ListProgress(pb.ListProgressRequest(email="ada@example.org"), metadata=ACME)
    [progress] = listed.progress
    assert (progress.status, progress.percent_complete) == (pb.PROGRESS_STATUS_COMPLETED, 100)
    assert (progress.learner.email, progress.learner.external_id) == ("ada@example.org", "u-42")
    assert progress.provenance.channel == types_pb2.INGEST_CHANNEL_WEBHOOK
    assert not progress.HasField("final_score")
    fetched = await stub.GetProgress(pb.GetProgressRequest(progress_id=progress.progress_id), metadata=ACME)
    assert fetched.progress == progress
    replay = await stub.ReceiveWebhook(request, metadata=_signed(request, message_id="msg_ec_1"))
    assert replay.ack.duplicate is True


async def test_generic_metadata_travels_as_a_struct(stub: Stub) -> None:
    await _deliver(stub, _webhook("generic", support.generic("in_progress")))
    [progress] = (await stub.ListProgress(pb.ListProgressRequest(), metadata=ACME)).progress
    assert (progress.provider, progress.provider_name) == (pb.PROVIDER_GENERIC, "coursera")
    assert dict(progress.metadata) == {"cohort": "2026-Q1", "hours": 12.0}


async def test_credentials_are_listed_and_fetched(stub: Stub) -> None:
    await _deliver(stub, _webhook("ecornell", support.ecornell("certificate.issued")))
    [credential] = (await stub.ListCredentials(pb.ListCredentialsRequest(), metadata=ACME)).credentials
    assert (credential.credential_type, credential.external_credential_id) == (pb.CREDENTIAL_TYPE_CERTIFICATE, "CERT-9")
    request = pb.GetCredentialRequest(credential_id=credential.credential_id)
    assert (await stub.GetCredential(request, metadata=ACME)).credential == credential
    error = await _error(stub.GetCredential(request, metadata=GLOBEX))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_an_import_reports_its_batch_and_serves_the_error_csv(stub: Stub) -> None:
    body = httpbody_pb2.HttpBody(content_type="text/csv", data=COMPLETIONS)
    batch = (await stub.ImportRecords(pb.ImportRecordsRequest(kind="completions", body=body), metadata=ACME)).batch
    assert (batch.status, batch.rows_total, batch.rows_stored, batch.rows_quarantined) == (
        types_pb2.IMPORT_STATUS_COMPLETED_WITH_ERRORS,
        2,
        1,
        1,
    )
    assert (await stub.GetImport(pb.GetImportRequest(batch_id=batch.batch_id), metadata=ACME)).batch == batch
    errors = await stub.GetImportErrors(pb.GetImportErrorsRequest(batch_id=batch.batch_id), metadata=ACME)
    assert [(e.row, e.field) for e in errors.errors] == [(3, "email")]
    assert errors.body.content_type.startswith("text/csv")
    assert errors.body.data.splitlines()[0] == b"row,field,message,value"
    listed = await stub.ListImports(pb.ListImportsRequest(), metadata=ACME)
    assert [b.batch_id for b in listed.batches] == [batch.batch_id]
    assert not (await stub.ListImports(pb.ListImportsRequest(), metadata=GLOBEX)).batches
    error = await _error(stub.GetImportErrors(pb.GetImportErrorsRequest(batch_id=batch.batch_id), metadata=GLOBEX))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (_webhook("moodle", support.generic("in_progress")), ["provider"]),
        (_webhook("generic", b"{"), ["body"]),
        (
            _webhook("itslearning", support.itslearning("CourseProgress", progressPercentage=101)),
            ["progressPercentage"],
        ),
        (pb.ImportRecordsRequest(kind="completions", body=httpbody_pb2.HttpBody(data=b"")), ["body"]),
        (pb.ImportRecordsRequest(kind="people", body=httpbody_pb2.HttpBody(data=COMPLETIONS)), ["kind"]),
        (pb.GetProgressRequest(progress_id="nope"), ["progress_id"]),
        (pb.ListProgressRequest(page_token="bogus"), ["page_token"]),
    ],
)
async def test_malformed_requests_are_invalid_arguments_naming_fields(
    stub: Stub, request_: Any, fields: list[str]
) -> None:
    method: Any = {
        pb.ReceiveWebhookRequest: stub.ReceiveWebhook,
        pb.ImportRecordsRequest: stub.ImportRecords,
        pb.GetProgressRequest: stub.GetProgress,
        pb.ListProgressRequest: stub.ListProgress,
    }[type(request_)]
    signed = isinstance(request_, pb.ReceiveWebhookRequest)
    error = await _error(method(request_, metadata=_signed(request_) if signed else ACME))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(error) == fields


async def test_calls_without_a_tenant_are_unauthenticated(stub: Stub) -> None:
    request = _webhook("ecornell", support.ecornell("course.started"))
    for call in (
        stub.ReceiveWebhook(request),
        stub.ReceiveWebhook(request, metadata=ACME),  # a token but no signature
        stub.ListProgress(pb.ListProgressRequest()),
        stub.ListImports(pb.ListImportsRequest()),
    ):
        assert (await _error(call)).code() == grpc.StatusCode.UNAUTHENTICATED


async def test_records_of_one_company_are_invisible_to_another(stub: Stub) -> None:
    await _deliver(stub, _webhook("itslearning", support.itslearning("CourseCompletion")))
    [progress] = (await stub.ListProgress(pb.ListProgressRequest(), metadata=ACME)).progress
    assert not (await stub.ListProgress(pb.ListProgressRequest(), metadata=GLOBEX)).progress
    assert not (await stub.ListCredentials(pb.ListCredentialsRequest(), metadata=GLOBEX)).credentials
    error = await _error(stub.GetProgress(pb.GetProgressRequest(progress_id=progress.progress_id), metadata=GLOBEX))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_privacy_export_and_erase_of_an_unknown_person_find_nothing(stub: Stub) -> None:
    subject = types_pb2.DataSubject(email="nobody@example.org")
    export = await stub.ExportSubjectData(pb.ExportSubjectDataRequest(subject=subject), metadata=ACME)
    operator = tenant("acme", role="super_admin")  # erasure needs PERMISSION_PLATFORM_OPERATE
    erase = await stub.EraseSubjectData(
        pb.EraseSubjectDataRequest(subject=subject, privacy_request_id="r1"), metadata=operator
    )
    assert (len(export.records.fields), erase.records_found, erase.records_erased) == (0, 0, 0)


async def test_an_import_is_audited_under_the_caller_and_the_log_verifies(
    stub: Stub, service_config: ServiceConfig
) -> None:
    body = httpbody_pb2.HttpBody(content_type="text/csv", data=COMPLETIONS)
    batch = (await stub.ImportRecords(pb.ImportRecordsRequest(kind="completions", body=body), metadata=ACME)).batch
    events = stored(db.database_url(service_config, "upskilling"))
    assert [(e.action, e.actor, e.actor_kind, e.tenant, e.resource) for e in events] == [
        ("import.completed", "user-1", "token", "acme", f"import:{batch.batch_id}")
    ]
    assert json.loads(events[0].diff)["after"]["rows_quarantined"] == 1
    report = audit_cli.verify_database(db.database_url(service_config, "upskilling"), service_config.var_dir)
    assert (report.ok, report.records) == (True, 1)
