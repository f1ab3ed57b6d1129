"""Q2qService servicer: proto → command via wire, the handler or query, domain → proto; nothing else.

Classify with `store=true` is screened by Safety first (services.q2q.screening states the fallback when
Safety cannot answer). A privacy export or erasure is recorded in the audit log once it is done, before
it is answered: a failed record fails the call, and the caller's retry (erasure is safe to repeat) records it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from services.kit.audit.records import AuditEntry
from services.kit.audit.trail import AuditLog
from services.kit.grpc.subjects import SubjectData
from services.kit.security.tenancy import current_bearer, current_principal, current_tenant
from services.q2q import handlers, queries, wire
from services.q2q.repository import Q2qUnitOfWork
from services.q2q.screening.retrier import ScreeningRetrier
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class Q2qServicer(q2q_pb2_grpc.Q2qServiceServicer):
    """Serves taxonomy, classification, listing, manual scores and the privacy export and erasure."""

    def __init__(
        self,
        *,
        uow: Q2qUnitOfWork,
        screening: handlers.ScreeningParts,
        retrier: ScreeningRetrier | None = None,
        subjects: SubjectData,
        audit: AuditLog,
    ) -> None:
        self._uow = uow
        self._screening = screening
        self._retrier = retrier
        self._subjects = subjects
        self._audit = audit

    async def ExportSubjectData(
        self, request: q2q_pb2.ExportSubjectDataRequest, context: Context
    ) -> q2q_pb2.ExportSubjectDataResponse:
        records = await self._subjects.export(request.subject)
        await self._record(wire.subject_exported(request, records, company_id=current_tenant()))
        return q2q_pb2.ExportSubjectDataResponse(records=records)

    async def EraseSubjectData(
        self, request: q2q_pb2.EraseSubjectDataRequest, context: Context
    ) -> q2q_pb2.EraseSubjectDataResponse:
        done = await self._subjects.erase(request.subject, request.privacy_request_id)
        response = q2q_pb2.EraseSubjectDataResponse(
            records_erased=done.erased,
            records_found=done.found,
            records_retained=done.retained,
            retained_reason=done.retained_reason,
        )
        await self._record(wire.subject_erased(request, response, company_id=current_tenant()))
        return response

    async def GetTaxonomy(self, request: q2q_pb2.GetTaxonomyRequest, context: Context) -> q2q_pb2.GetTaxonomyResponse:
        return wire.taxonomy_response()

    async def Classify(self, request: q2q_pb2.ClassifyRequest, context: Context) -> q2q_pb2.ClassifyResponse:
        command = wire.classify_text(request, company_id=current_tenant())
        if self._retrier is not None:
            self._retrier.ensure_started()  # started with the server; a no-op unless it was stopped
        outcome = await handlers.classify(command, parts=self._screening, bearer=current_bearer())
        return wire.classify_response(outcome)

    async def ClassifyBatch(
        self, request: q2q_pb2.ClassifyBatchRequest, context: Context
    ) -> q2q_pb2.ClassifyBatchResponse:
        commands = wire.classify_batch(request, company_id=current_tenant())
        if self._retrier is not None:
            self._retrier.ensure_started()
        outcomes = await handlers.classify_batch(commands, parts=self._screening, bearer=current_bearer())
        return wire.classify_batch_response(request, outcomes)

    async def ListScores(self, request: q2q_pb2.ListScoresRequest, context: Context) -> q2q_pb2.ListScoresResponse:
        query = wire.list_scores(request, company_id=current_tenant())
        page = await asyncio.to_thread(queries.list_scores, query, uow=self._uow)
        scores = [wire.score_record(record) for record in page.scores]
        return q2q_pb2.ListScoresResponse(scores=scores, next_page_token=page.next_page_token)

    async def RecordManualScore(
        self, request: q2q_pb2.RecordManualScoreRequest, context: Context
    ) -> q2q_pb2.RecordManualScoreResponse:
        command = wire.record_manual_score(
            request, company_id=current_tenant(), recorded_by=current_principal().subject
        )
        record = await asyncio.to_thread(handlers.record_manual_score, command, uow=self._uow)
        return q2q_pb2.RecordManualScoreResponse(score=wire.score_record(record))

    async def _record(self, entry: AuditEntry) -> None:
        """Appends the entry in a transaction of its own (the caller comes from its token)."""
        await asyncio.to_thread(self._audit.record, entry)
