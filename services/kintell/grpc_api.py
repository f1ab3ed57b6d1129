"""KintellService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import grpc
from google.api import httpbody_pb2

from services.kintell import handlers, queries, wire
from services.kintell.domain.commands import GetSession, ImportSessions, ListSessions, ReceiveWebhook, SessionFilter
from services.kintell.domain.errors import InvalidRequest
from services.kintell.domain.webhooks import SOURCE
from services.kintell.repository import GroupCommit, KintellUnitOfWork
from services.kit.connectors.deliveries import Ack
from services.kit.connectors.import_rpcs import ImportRpcs
from services.kit.connectors.wire import import_batch, known, time_filter, webhook_ack
from services.kit.grpc.subjects import SubjectData, SubjectDataRpcs
from services.kit.security import webhooks
from services.kit.security.tenancy import current_tenant
from teei.common.v1 import types_pb2
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
Receive = Callable[..., Ack]
T = TypeVar("T")


class KintellServicer(
    SubjectDataRpcs[kintell_pb2.ExportSubjectDataResponse, kintell_pb2.EraseSubjectDataResponse],
    ImportRpcs[kintell_pb2.GetImportResponse, kintell_pb2.ListImportsResponse, kintell_pb2.GetImportErrorsResponse],
    kintell_pb2_grpc.KintellServiceServicer,
):
    """Serves the Kintell RPCs for the caller's company."""

    export_response = kintell_pb2.ExportSubjectDataResponse
    erase_response = kintell_pb2.EraseSubjectDataResponse
    imports = queries.IMPORTS
    get_import_response = kintell_pb2.GetImportResponse
    list_imports_response = kintell_pb2.ListImportsResponse
    get_import_errors_response = kintell_pb2.GetImportErrorsResponse

    def __init__(
        self,
        *,
        uow: KintellUnitOfWork,
        receipts: GroupCommit,
        verifier: webhooks.WebhookVerifier,
        subjects: SubjectData,
    ) -> None:
        self._uow = uow
        self.imports_uow = uow
        self._receipts = receipts
        self._verifier = verifier
        self.subjects = subjects

    async def ImportSessions(
        self, request: kintell_pb2.ImportSessionsRequest, context: Context
    ) -> kintell_pb2.ImportSessionsResponse:
        command = ImportSessions(company_id=current_tenant(), data=request.body.data)
        batch = await asyncio.to_thread(handlers.import_sessions, command, uow=self._uow)
        return kintell_pb2.ImportSessionsResponse(batch=import_batch(batch))

    async def ReceiveSessionCompleted(
        self, request: kintell_pb2.ReceiveSessionCompletedRequest, context: Context
    ) -> kintell_pb2.ReceiveSessionCompletedResponse:
        ack = await self._receive(handlers.receive_session_completed, request.body, context)
        return kintell_pb2.ReceiveSessionCompletedResponse(ack=ack)

    async def ReceiveRatingCreated(
        self, request: kintell_pb2.ReceiveRatingCreatedRequest, context: Context
    ) -> kintell_pb2.ReceiveRatingCreatedResponse:
        ack = await self._receive(handlers.receive_rating_created, request.body, context)
        return kintell_pb2.ReceiveRatingCreatedResponse(ack=ack)

    async def ReceiveBookingConfirmed(
        self, request: kintell_pb2.ReceiveBookingConfirmedRequest, context: Context
    ) -> kintell_pb2.ReceiveBookingConfirmedResponse:
        ack = await self._receive(handlers.receive_booking_confirmed, request.body, context)
        return kintell_pb2.ReceiveBookingConfirmedResponse(ack=ack)

    async def _receive(self, handler: Receive, body: httpbody_pb2.HttpBody, context: Context) -> types_pb2.WebhookAck:
        tenant, headers = current_tenant(), webhooks.headers_from(context.invocation_metadata())
        delivery = self._verifier.verify(tenant=tenant, source=SOURCE, headers=headers, body=body.data)
        command = ReceiveWebhook(company_id=tenant, delivery_id=delivery.message_id, body=body.data)
        ack = await self._receipts.run(partial(_received, handler, command))
        return webhook_ack(ack.delivery_id, duplicate=ack.duplicate)

    async def GetSession(
        self, request: kintell_pb2.GetSessionRequest, context: Context
    ) -> kintell_pb2.GetSessionResponse:
        query = GetSession(company_id=current_tenant(), session_id=request.session_id)
        session, ratings = await asyncio.to_thread(queries.get_session, query, uow=self._uow)
        return kintell_pb2.GetSessionResponse(session=wire.session(session, ratings))

    async def ListSessions(
        self, request: kintell_pb2.ListSessionsRequest, context: Context
    ) -> kintell_pb2.ListSessionsResponse:
        where = SessionFilter(
            session_type=_known(request.session_type, wire.SESSION_TYPES_FROM_PROTO, "session_type"),
            status=_known(request.status, wire.STATUSES_FROM_PROTO, "status"),
            participant_email=request.participant_email,
            volunteer_email=request.volunteer_email,
            profile_id=request.profile_id,
            start_at=time_filter(request, "start_time"),
            end_at=time_filter(request, "end_time"),
        )
        query = ListSessions(current_tenant(), where, page_size=request.page_size, page_token=request.page_token)
        page = await asyncio.to_thread(queries.list_sessions, query, uow=self._uow)
        sessions = [wire.session(s, r) for s, r in page.sessions]
        return kintell_pb2.ListSessionsResponse(sessions=sessions, next_page_token=page.next_page_token)


def _received(handler: Receive, command: ReceiveWebhook, uow: KintellUnitOfWork) -> Ack:
    return handler(command, uow=uow)


def _known(value: int, mapping: dict[int, T], field: str) -> T | None:
    return known(value, mapping, field, invalid=InvalidRequest)
