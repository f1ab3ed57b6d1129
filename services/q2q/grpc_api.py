"""Q2qService servicer: proto ⇄ command, nothing else; Export/Erase stay UNIMPLEMENTED (inherited).

Classify with `store=true` is screened by Safety first and, when Safety cannot answer, accepted with
`stored=false` and kept awaiting screening (services.q2q.on_demand states the whole fallback).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from services.kit.security.tenancy import current_bearer, current_tenant
from services.q2q import handlers, on_demand, wire
from services.q2q.domain.commands import ClassifyText, ListScores, RecordManualScore
from services.q2q.repository import Q2qUnitOfWork
from services.q2q.screening_retrier import ScreeningRetrier
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class Q2qServicer(q2q_pb2_grpc.Q2qServiceServicer):
    """Serves taxonomy, classification, listing and manual scores."""

    def __init__(
        self, *, uow: Q2qUnitOfWork, screening: on_demand.Screening, retrier: ScreeningRetrier | None = None
    ) -> None:
        self._uow = uow
        self._screening = screening
        self._retrier = retrier

    async def GetTaxonomy(self, request: q2q_pb2.GetTaxonomyRequest, context: Context) -> q2q_pb2.GetTaxonomyResponse:
        return wire.taxonomy_response()

    async def Classify(self, request: q2q_pb2.ClassifyRequest, context: Context) -> q2q_pb2.ClassifyResponse:
        command = ClassifyText(
            company_id=current_tenant(),
            text=request.text,
            profile_id=request.profile_id,
            source_type=wire.SOURCE_FROM_PROTO.get(request.source_text_type),
            source_id=request.source_text_id,
            store=request.store,
        )
        if self._retrier is not None:
            self._retrier.ensure_started()  # started with the server; a no-op unless it was stopped
        outcome = await on_demand.classify(command, parts=self._screening, bearer=current_bearer())
        return q2q_pb2.ClassifyResponse(
            labels=wire.labels(outcome.labels),
            evidence=[wire.evidence(item) for item in outcome.evidence],
            scores=[wire.dimension_score(value) for value in outcome.scores],
            method=wire.METHOD_TO_PROTO[outcome.method],
            model_version=outcome.model_version,
            content_hash=outcome.content_hash,
            stored=outcome.stored,
            screening=wire.SCREENING_TO_PROTO[outcome.screening],
        )

    async def ListScores(self, request: q2q_pb2.ListScoresRequest, context: Context) -> q2q_pb2.ListScoresResponse:
        query = ListScores(
            company_id=current_tenant(),
            profile_id=request.profile_id,
            source_id=request.source_text_id,
            source_type=wire.SOURCE_FROM_PROTO.get(request.source_text_type),
            dimension=wire.DIMENSION_FROM_PROTO.get(request.dimension),
            method=wire.METHOD_FROM_PROTO.get(request.method),
            start_time=_time(request, "start_time"),
            end_time=_time(request, "end_time"),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        page, token = await asyncio.to_thread(handlers.list_scores, query, uow=self._uow)
        return q2q_pb2.ListScoresResponse(scores=[wire.score_record(r) for r in page], next_page_token=token)

    async def RecordManualScore(
        self, request: q2q_pb2.RecordManualScoreRequest, context: Context
    ) -> q2q_pb2.RecordManualScoreResponse:
        command = RecordManualScore(
            company_id=current_tenant(),
            profile_id=request.profile_id,
            source_type=wire.SOURCE_FROM_PROTO.get(request.source_text_type),
            source_id=request.source_text_id,
            dimension=wire.DIMENSION_FROM_PROTO.get(request.dimension),
            score=request.score,
            note=request.note,
            # The caller's subject arrives with authentication; until then it stays empty.
            recorded_by="",
        )
        record = await asyncio.to_thread(handlers.record_manual_score, command, uow=self._uow)
        return q2q_pb2.RecordManualScoreResponse(score=wire.score_record(record))


def _time(request: q2q_pb2.ListScoresRequest, field: str) -> datetime | None:
    if not request.HasField(field):  # type: ignore[arg-type]
        return None
    stamp: timestamp_pb2.Timestamp = getattr(request, field)
    return stamp.ToDatetime(tzinfo=UTC)
