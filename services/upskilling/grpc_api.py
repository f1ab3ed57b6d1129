"""UpskillingService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from services.kit.connectors.import_rpcs import ImportRpcs
from services.kit.connectors.wire import import_batch, webhook_ack
from services.kit.grpc.subjects import SubjectData, SubjectDataRpcs
from services.kit.security import webhooks
from services.kit.security.tenancy import current_tenant
from services.upskilling import handlers, queries, wire
from services.upskilling.domain.commands import (
    GetCredential,
    GetProgress,
    ImportRecords,
    ListCredentials,
    ListProgress,
    ReceiveWebhook,
)
from services.upskilling.repository import UpskillingUnitOfWork
from teei.upskilling.v1 import upskilling_pb2, upskilling_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
pb = upskilling_pb2


class UpskillingServicer(
    SubjectDataRpcs[upskilling_pb2.ExportSubjectDataResponse, upskilling_pb2.EraseSubjectDataResponse],
    ImportRpcs[
        upskilling_pb2.GetImportResponse, upskilling_pb2.ListImportsResponse, upskilling_pb2.GetImportErrorsResponse
    ],
    upskilling_pb2_grpc.UpskillingServiceServicer,
):
    """Serves the upskilling RPCs for the caller's company."""

    export_response = upskilling_pb2.ExportSubjectDataResponse
    erase_response = upskilling_pb2.EraseSubjectDataResponse
    imports = queries.IMPORTS
    get_import_response = upskilling_pb2.GetImportResponse
    list_imports_response = upskilling_pb2.ListImportsResponse
    get_import_errors_response = upskilling_pb2.GetImportErrorsResponse

    def __init__(self, *, uow: UpskillingUnitOfWork, verifier: webhooks.WebhookVerifier, subjects: SubjectData) -> None:
        self._uow = uow
        self.imports_uow = uow
        self._verifier = verifier
        self.subjects = subjects

    async def ReceiveWebhook(self, request: pb.ReceiveWebhookRequest, context: Context) -> pb.ReceiveWebhookResponse:
        tenant, provider = current_tenant(), handlers.parse_provider(request.provider)
        headers, body = webhooks.headers_from(context.invocation_metadata()), request.body.data
        delivery = self._verifier.verify(tenant=tenant, source=provider.value, headers=headers, body=body)
        command = ReceiveWebhook(tenant, provider.value, body, delivery.message_id)
        ack = await asyncio.to_thread(handlers.receive_webhook, command, uow=self._uow)
        return pb.ReceiveWebhookResponse(ack=webhook_ack(ack.delivery_id, duplicate=ack.duplicate))

    async def ImportRecords(self, request: pb.ImportRecordsRequest, context: Context) -> pb.ImportRecordsResponse:
        command = ImportRecords(
            company_id=current_tenant(), kind=request.kind, data=request.body.data, file_name=request.file_name
        )
        batch = await asyncio.to_thread(handlers.import_records, command, uow=self._uow)
        return pb.ImportRecordsResponse(batch=import_batch(batch))

    async def GetProgress(self, request: pb.GetProgressRequest, context: Context) -> pb.GetProgressResponse:
        query = GetProgress(company_id=current_tenant(), progress_id=request.progress_id)
        record = await asyncio.to_thread(queries.get_progress, query, uow=self._uow)
        return pb.GetProgressResponse(progress=wire.progress(record))

    async def ListProgress(self, request: pb.ListProgressRequest, context: Context) -> pb.ListProgressResponse:
        query = ListProgress(
            company_id=current_tenant(),
            profile_id=request.profile_id,
            email=request.email,
            provider=p.value if (p := wire.PROVIDERS_FROM_PROTO.get(request.provider)) else "",
            status=wire.STATUSES_FROM_PROTO.get(request.status),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        records, token = await asyncio.to_thread(queries.list_progress, query, uow=self._uow)
        return pb.ListProgressResponse(progress=[wire.progress(r) for r in records], next_page_token=token)

    async def GetCredential(self, request: pb.GetCredentialRequest, context: Context) -> pb.GetCredentialResponse:
        query = GetCredential(company_id=current_tenant(), credential_id=request.credential_id)
        record = await asyncio.to_thread(queries.get_credential, query, uow=self._uow)
        return pb.GetCredentialResponse(credential=wire.credential(record))

    async def ListCredentials(self, request: pb.ListCredentialsRequest, context: Context) -> pb.ListCredentialsResponse:
        query = ListCredentials(
            company_id=current_tenant(),
            profile_id=request.profile_id,
            email=request.email,
            credential_type=wire.CREDENTIAL_TYPES_FROM_PROTO.get(request.credential_type),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        records, token = await asyncio.to_thread(queries.list_credentials, query, uow=self._uow)
        return pb.ListCredentialsResponse(credentials=[wire.credential(r) for r in records], next_page_token=token)
