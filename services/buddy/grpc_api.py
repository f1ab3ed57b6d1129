"""BuddyService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import grpc

from services.buddy import handlers, queries, wire
from services.buddy.domain.commands import GetRecord, ImportRecords, ListRecords, ReceiveWebhook, RecordFilter
from services.buddy.domain.errors import InvalidBuddyRequest
from services.buddy.domain.model import Record
from services.buddy.domain.webhooks import SOURCE
from services.buddy.handlers import DEFAULT_LIMITS, Limits
from services.buddy.repository import BuddyUnitOfWork
from services.kit import logs
from services.kit.connectors.import_rpcs import ImportRpcs
from services.kit.connectors.wire import import_batch, known, time_filter, webhook_ack
from services.kit.grpc.subjects import SubjectData, SubjectDataRpcs
from services.kit.security import webhooks
from services.kit.security.tenancy import current_tenant
from teei.buddy.v1 import buddy_pb2, buddy_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
E = TypeVar("E")
log = logs.get_logger(__name__)


class BuddyServicer(
    SubjectDataRpcs[buddy_pb2.ExportSubjectDataResponse, buddy_pb2.EraseSubjectDataResponse],
    ImportRpcs[buddy_pb2.GetImportResponse, buddy_pb2.ListImportsResponse, buddy_pb2.GetImportErrorsResponse],
    buddy_pb2_grpc.BuddyServiceServicer,
):
    """Serves imports, webhooks and reads of Buddy records for the caller's company."""

    export_response = buddy_pb2.ExportSubjectDataResponse
    erase_response = buddy_pb2.EraseSubjectDataResponse
    imports = queries.IMPORTS
    get_import_response = buddy_pb2.GetImportResponse
    list_imports_response = buddy_pb2.ListImportsResponse
    get_import_errors_response = buddy_pb2.GetImportErrorsResponse

    def __init__(
        self,
        *,
        uow: BuddyUnitOfWork,
        verifier: webhooks.WebhookVerifier,
        limits: Limits = DEFAULT_LIMITS,
        subjects: SubjectData,
    ) -> None:
        self._uow = uow
        self.imports_uow = uow
        self._verifier = verifier
        self._limits = limits
        self.subjects = subjects

    async def ImportRecords(
        self, request: buddy_pb2.ImportRecordsRequest, context: Context
    ) -> buddy_pb2.ImportRecordsResponse:
        command = ImportRecords(current_tenant(), request.kind, request.body.data, request.file_name)
        batch = await asyncio.to_thread(handlers.import_records, command, uow=self._uow, limits=self._limits)
        log.info("buddy.import.recorded", batch_id=batch.batch_id, kind=batch.kind, file_name=request.file_name[:255])
        return buddy_pb2.ImportRecordsResponse(batch=import_batch(batch))

    async def ReceiveWebhook(
        self, request: buddy_pb2.ReceiveWebhookRequest, context: Context
    ) -> buddy_pb2.ReceiveWebhookResponse:
        tenant, headers = current_tenant(), webhooks.headers_from(context.invocation_metadata())
        delivery = self._verifier.verify(tenant=tenant, source=SOURCE, headers=headers, body=request.body.data)
        command = ReceiveWebhook(tenant, request.kind, request.body.data, delivery.message_id)
        ack = await asyncio.to_thread(handlers.receive_webhook, command, uow=self._uow, limits=self._limits)
        return buddy_pb2.ReceiveWebhookResponse(ack=webhook_ack(ack.delivery_id, duplicate=ack.duplicate))

    async def GetMatch(self, request: buddy_pb2.GetMatchRequest, context: Context) -> buddy_pb2.GetMatchResponse:
        return buddy_pb2.GetMatchResponse(match=await self._get("matches", request.match_id, wire.match))

    async def ListMatches(
        self, request: buddy_pb2.ListMatchesRequest, context: Context
    ) -> buddy_pb2.ListMatchesResponse:
        where = RecordFilter(email=request.email, status=_known(request.status, wire.STATUS_FROM_PROTO, "status"))
        found, token = await self._list("matches", where, request, wire.match)
        return buddy_pb2.ListMatchesResponse(matches=found, next_page_token=token)

    async def GetEvent(self, request: buddy_pb2.GetEventRequest, context: Context) -> buddy_pb2.GetEventResponse:
        return buddy_pb2.GetEventResponse(event=await self._get("events", request.event_id, wire.event))

    async def ListEvents(self, request: buddy_pb2.ListEventsRequest, context: Context) -> buddy_pb2.ListEventsResponse:
        where = RecordFilter(
            match_id=request.match_id,
            event_type=_known(request.event_type, wire.EVENT_TYPE_FROM_PROTO, "event_type"),
            since=time_filter(request, "start_time"),
            before=time_filter(request, "end_time"),
        )
        found, token = await self._list("events", where, request, wire.event)
        return buddy_pb2.ListEventsResponse(events=found, next_page_token=token)

    async def GetCheckIn(self, request: buddy_pb2.GetCheckInRequest, context: Context) -> buddy_pb2.GetCheckInResponse:
        return buddy_pb2.GetCheckInResponse(checkin=await self._get("checkins", request.checkin_id, wire.checkin))

    async def ListCheckIns(
        self, request: buddy_pb2.ListCheckInsRequest, context: Context
    ) -> buddy_pb2.ListCheckInsResponse:
        where = RecordFilter(
            match_id=request.match_id, since=time_filter(request, "start_time"), before=time_filter(request, "end_time")
        )
        found, token = await self._list("checkins", where, request, wire.checkin)
        return buddy_pb2.ListCheckInsResponse(checkins=found, next_page_token=token)

    async def GetFeedback(
        self, request: buddy_pb2.GetFeedbackRequest, context: Context
    ) -> buddy_pb2.GetFeedbackResponse:
        return buddy_pb2.GetFeedbackResponse(feedback=await self._get("feedback", request.feedback_id, wire.feedback))

    async def ListFeedback(
        self, request: buddy_pb2.ListFeedbackRequest, context: Context
    ) -> buddy_pb2.ListFeedbackResponse:
        where = RecordFilter(
            match_id=request.match_id, side=_known(request.author_role, wire.SIDE_FROM_PROTO, "author_role")
        )
        found, token = await self._list("feedback", where, request, wire.feedback)
        return buddy_pb2.ListFeedbackResponse(feedback=found, next_page_token=token)

    async def _get(self, kind: str, record_id: str, to_proto: Callable[[Any], E]) -> E:
        query = GetRecord(current_tenant(), kind, record_id)
        record = await asyncio.to_thread(queries.get_record, query, uow=self._uow)
        return to_proto(record)

    async def _list(
        self, kind: str, where: RecordFilter, request: Any, to_proto: Callable[[Any], E]
    ) -> tuple[list[E], str]:
        where = replace(where, profile_id=request.profile_id)
        query = ListRecords(current_tenant(), kind, where, request.page_size, request.page_token)
        found: list[Record]
        found, token = await asyncio.to_thread(queries.list_records, query, uow=self._uow)
        return [to_proto(record) for record in found], token


def _known(value: int, mapping: dict[int, E], field: str) -> E | None:
    return known(value, mapping, field, invalid=InvalidBuddyRequest)
