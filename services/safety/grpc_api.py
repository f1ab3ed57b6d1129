"""SafetyService servicer: proto ⇄ command, nothing else. Privacy export and erasure answer UNIMPLEMENTED."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import grpc

from services.kit.errors import FieldViolation
from services.kit.security.tenancy import current_tenant
from services.safety import handlers, wire
from services.safety.domain import commands
from services.safety.domain.errors import InvalidSafetyRequest
from services.safety.domain.findings import FindingType
from services.safety.domain.model import TextSourceType
from services.safety.repository import SafetyUnitOfWork
from teei.common.v1 import types_pb2
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

# Asserted by the edge after authentication (clients cannot set it: the edge strips it).
PRINCIPAL_HEADER = "x-teei-principal"
UNKNOWN_REVIEWER = "unauthenticated"


class SafetyServicer(safety_pb2_grpc.SafetyServiceServicer):
    """Serves screening, flags and the review queue."""

    def __init__(self, *, uow: SafetyUnitOfWork) -> None:
        self._uow = uow

    async def ScreenText(
        self, request: safety_pb2.ScreenTextRequest, context: Context
    ) -> safety_pb2.ScreenTextResponse:
        source = commands.text_source(
            request.source_text_id, _source_type(request.source_text_type), request.profile_id
        )
        command = commands.ScreenText(current_tenant(), request.text, source, dry_run=request.dry_run)
        result = await asyncio.to_thread(handlers.screen_text, command, uow=self._uow)
        return wire.screen_response(result)

    async def GetFlag(self, request: safety_pb2.GetFlagRequest, context: Context) -> safety_pb2.GetFlagResponse:
        query = commands.GetFlag(current_tenant(), request.flag_id)
        flag = await asyncio.to_thread(handlers.get_flag, query, uow=self._uow)
        return safety_pb2.GetFlagResponse(flag=wire.flag(flag))

    async def ListFlags(self, request: safety_pb2.ListFlagsRequest, context: Context) -> safety_pb2.ListFlagsResponse:
        query = commands.ListFlags(
            company_id=current_tenant(),
            finding_type=_finding_type(request.finding_type),
            source_text_id=request.source_text_id,
            profile_id=request.profile_id,
            start=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            end=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        flags, token = await asyncio.to_thread(handlers.list_flags, query, uow=self._uow)
        return safety_pb2.ListFlagsResponse(flags=[wire.flag(f) for f in flags], next_page_token=token)

    async def GetReview(self, request: safety_pb2.GetReviewRequest, context: Context) -> safety_pb2.GetReviewResponse:
        query = commands.GetReview(current_tenant(), request.review_id)
        record = await asyncio.to_thread(handlers.get_review, query, uow=self._uow)
        return safety_pb2.GetReviewResponse(review=wire.review(record))

    async def ListReviews(
        self, request: safety_pb2.ListReviewsRequest, context: Context
    ) -> safety_pb2.ListReviewsResponse:
        query = commands.ListReviews(
            current_tenant(), request.status, request.profile_id, request.page_size, request.page_token
        )
        records, token = await asyncio.to_thread(handlers.list_reviews, query, uow=self._uow)
        return safety_pb2.ListReviewsResponse(reviews=[wire.review(r) for r in records], next_page_token=token)

    async def DecideReview(
        self, request: safety_pb2.DecideReviewRequest, context: Context
    ) -> safety_pb2.DecideReviewResponse:
        command = commands.DecideReview(
            company_id=current_tenant(),
            review_id=request.review_id,
            decision=wire.DECISIONS_FROM_PROTO.get(request.decision),
            reviewer=_reviewer(context),
            notes=request.notes,
        )
        record = await asyncio.to_thread(handlers.decide_review, command, uow=self._uow)
        return safety_pb2.DecideReviewResponse(review=wire.review(record))


def _source_type(value: int) -> TextSourceType | None:
    if value == types_pb2.TEXT_SOURCE_TYPE_UNSPECIFIED:
        return None
    if value not in wire.SOURCE_TYPES_FROM_PROTO:
        raise _unknown_enum("source_text_type")
    return wire.SOURCE_TYPES_FROM_PROTO[value]  # type: ignore[index]


def _finding_type(value: int) -> FindingType | None:
    if value == safety_pb2.FINDING_TYPE_UNSPECIFIED:
        return None
    if value not in wire.FINDING_TYPES_FROM_PROTO:
        raise _unknown_enum("finding_type")
    return wire.FINDING_TYPES_FROM_PROTO[value]  # type: ignore[index]


def _unknown_enum(field: str) -> InvalidSafetyRequest:
    return InvalidSafetyRequest(f"{field} is not a known value", violations=[FieldViolation(field, "unknown value")])


def _reviewer(context: Context) -> str:
    """The subject of the authenticated caller, as asserted by the edge."""
    for key, value in context.invocation_metadata() or ():
        if key == PRINCIPAL_HEADER and isinstance(value, str) and value:
            return value[:255]
    return UNKNOWN_REVIEWER
