"""SafetyService servicer: proto ⇄ command, nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from services.kit.grpc.subjects import SubjectData, SubjectDataRpcs
from services.kit.security.tenancy import current_principal, current_tenant
from services.safety import handlers, queries, wire
from services.safety.domain import commands
from services.safety.repository import SafetyUnitOfWork
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class SafetyServicer(
    SubjectDataRpcs[safety_pb2.ExportSubjectDataResponse, safety_pb2.EraseSubjectDataResponse],
    safety_pb2_grpc.SafetyServiceServicer,
):
    """Serves screening, flags and the review queue."""

    export_response = safety_pb2.ExportSubjectDataResponse
    erase_response = safety_pb2.EraseSubjectDataResponse

    def __init__(self, *, uow: SafetyUnitOfWork, subjects: SubjectData) -> None:
        self._uow = uow
        self.subjects = subjects

    async def ScreenText(
        self, request: safety_pb2.ScreenTextRequest, context: Context
    ) -> safety_pb2.ScreenTextResponse:
        command = wire.screen_text(request, current_tenant())
        result = await asyncio.to_thread(handlers.screen_text, command, uow=self._uow)
        return wire.screen_response(result)

    async def GetFlag(self, request: safety_pb2.GetFlagRequest, context: Context) -> safety_pb2.GetFlagResponse:
        query = commands.GetFlag(current_tenant(), request.flag_id)
        flag = await asyncio.to_thread(queries.get_flag, query, uow=self._uow)
        return safety_pb2.GetFlagResponse(flag=wire.flag(flag))

    async def ListFlags(self, request: safety_pb2.ListFlagsRequest, context: Context) -> safety_pb2.ListFlagsResponse:
        query = wire.list_flags(request, current_tenant())
        flags, token = await asyncio.to_thread(queries.list_flags, query, uow=self._uow)
        return safety_pb2.ListFlagsResponse(flags=[wire.flag(f) for f in flags], next_page_token=token)

    async def GetReview(self, request: safety_pb2.GetReviewRequest, context: Context) -> safety_pb2.GetReviewResponse:
        query = commands.GetReview(current_tenant(), request.review_id)
        record = await asyncio.to_thread(queries.get_review, query, uow=self._uow)
        return safety_pb2.GetReviewResponse(review=wire.review(record))

    async def ListReviews(
        self, request: safety_pb2.ListReviewsRequest, context: Context
    ) -> safety_pb2.ListReviewsResponse:
        query = wire.list_reviews(request, current_tenant())
        records, token = await asyncio.to_thread(queries.list_reviews, query, uow=self._uow)
        return safety_pb2.ListReviewsResponse(reviews=[wire.review(r) for r in records], next_page_token=token)

    async def DecideReview(
        self, request: safety_pb2.DecideReviewRequest, context: Context
    ) -> safety_pb2.DecideReviewResponse:
        # The reviewer is the subject of the validated token; no header can change it.
        command = wire.decide_review(request, current_tenant(), current_principal().subject)
        record = await asyncio.to_thread(handlers.decide_review, command, uow=self._uow)
        return safety_pb2.DecideReviewResponse(review=wire.review(record))
