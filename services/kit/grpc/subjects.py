"""The ExportSubjectData / EraseSubjectData RPCs every service holding personal data serves.

The subject is always of the caller's company (the validated token's tenant, or the tenant a mesh
service acts for); the service's `SubjectMap` says where it keeps people. Erasure runs in one write
transaction, so a failure leaves nothing half-erased, and is safe to repeat (a second run finds nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog
from google.protobuf import json_format, struct_pb2

from services.kit.errors import InvalidArgument
from services.kit.persistence import subjects
from services.kit.persistence.db import UnitOfWork
from services.kit.security.tenancy import current_principal, current_tenant
from teei.common.v1 import types_pb2

log = structlog.get_logger(__name__)
ExportT = TypeVar("ExportT")
EraseT = TypeVar("EraseT")


@dataclass(frozen=True)
class SubjectData:
    """Export and erasure of one service's records about a person, over its database."""

    uow: UnitOfWork
    mapping: subjects.SubjectMap

    async def export(self, subject: types_pb2.DataSubject) -> struct_pb2.Struct:
        """Every record about the subject, table by table."""
        who = subject_of(subject)
        records = await asyncio.to_thread(self._export, who)
        out = json_format.ParseDict(records, struct_pb2.Struct())
        log.info("privacy.subject.exported", service=self.mapping.service, records=subjects.count(records))
        return out

    async def erase(self, subject: types_pb2.DataSubject, request_id: str) -> subjects.Erasure:
        """Erases the subject; counts what was found, erased and kept."""
        if not request_id.strip():
            raise InvalidArgument("privacy_request_id is required", metadata={"field": "privacy_request_id"})
        who = subject_of(subject)
        result = await asyncio.to_thread(self._erase, who)
        log.info(
            "privacy.subject.erased",
            service=self.mapping.service,
            privacy_request_id=request_id,
            actor=current_principal().subject,
            found=result.found,
            erased=result.erased,
        )
        return result

    def _export(self, who: subjects.Subject) -> dict[str, list[dict[str, object]]]:
        with self.uow.read() as session:
            return subjects.export(session, self.mapping, who)

    def _erase(self, who: subjects.Subject) -> subjects.Erasure:
        with self.uow.begin() as session:
            subjects.zero_freed_cells(session)
            result = subjects.erase(session, self.mapping, who)
        subjects.forget_old_pages(self.uow.engine, result)
        return result


def subject_of(subject: types_pb2.DataSubject) -> subjects.Subject:
    """The request's subject within the caller's company; a subject naming no one is refused."""
    try:
        return subjects.Subject.of(current_tenant(), profile_id=subject.profile_id, email=subject.email)
    except ValueError as exc:
        raise InvalidArgument(str(exc), metadata={"field": "subject"}) from None


class ExportRequest(Protocol):
    """What every service's ExportSubjectDataRequest carries."""

    @property
    def subject(self) -> types_pb2.DataSubject: ...


class EraseRequest(ExportRequest, Protocol):
    """What every service's EraseSubjectDataRequest carries."""

    @property
    def privacy_request_id(self) -> str: ...


class SubjectDataRpcs(Generic[ExportT, EraseT]):
    """ExportSubjectData and EraseSubjectData of a servicer, over its `subjects` and answering with its own
    service's messages: the servicer lists this class before its generated base, sets `self.subjects` and
    names the two response messages as `export_response` and `erase_response`."""

    subjects: SubjectData
    export_response: Callable[..., ExportT]
    erase_response: Callable[..., EraseT]

    async def ExportSubjectData(self, request: ExportRequest, context: Any) -> ExportT:
        return self.export_response(records=await self.subjects.export(request.subject))

    async def EraseSubjectData(self, request: EraseRequest, context: Any) -> EraseT:
        done = await self.subjects.erase(request.subject, request.privacy_request_id)
        return self.erase_response(
            records_erased=done.erased,
            records_found=done.found,
            records_retained=done.retained,
            retained_reason=done.retained_reason,
        )
