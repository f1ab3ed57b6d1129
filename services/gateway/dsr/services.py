"""The personal-data services as the worker calls them: each one's ExportSubjectData and EraseSubjectData
over the mesh channel (mTLS, a service token acting for the request's company, which the trust policy
grants the gateway for exactly these two RPCs), or, without mTLS, with a short-lived token of the
gateway's own key ring. Failures are sorted into "try again later" and "refused for good"."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
from google.protobuf import json_format

from services.gateway.domain.privacy import Answer, DataSubject
from services.kit import errors
from services.kit.grpc import channels
from services.kit.grpc.resilience import CallPolicy, Resilience
from services.kit.security import servicetokens
from teei.common.v1 import types_pb2

# Codes meaning the service did not (or may not have) done the work: the part is tried again later.
UNANSWERED = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)
# Service name → (generated package module, stub class).
STUBS: Mapping[str, tuple[str, str]] = {
    "profile": ("teei.profile.v1.profile", "ProfileService"),
    "kintell": ("teei.kintell.v1.kintell", "KintellService"),
    "buddy": ("teei.buddy.v1.buddy", "BuddyService"),
    "upskilling": ("teei.upskilling.v1.upskilling", "UpskillingService"),
    "q2q": ("teei.q2q.v1.q2q", "Q2qService"),
    "safety": ("teei.safety.v1.safety", "SafetyService"),
}
Bearer = Callable[[str], str]


class Unanswered(Exception):
    """The service could not be reached or did not finish: try again later."""


class Refused(Exception):
    """The service refused the call for good (a bad request, a missing grant)."""


@dataclass(frozen=True)
class Exported:
    """A service's export: its count and its records, table by table."""

    answer: Answer
    records: dict[str, Any]


class SubjectService(Protocol):
    """One personal-data service's export and erasure of a person."""

    name: str

    async def export(self, subject: DataSubject) -> Exported: ...

    async def erase(self, subject: DataSubject, request_id: str) -> Answer: ...

    async def close(self) -> None: ...


class MeshSubjectService:
    """Calls one service at `address`; the channel is opened on first use (inside the serving loop)."""

    def __init__(
        self, name: str, address: str, *, policy: CallPolicy, cert_dir: Path | None, bearer: Bearer | None = None
    ) -> None:
        if name not in STUBS:
            raise ValueError(f"{name} is not a personal-data service ({', '.join(STUBS)})")
        if cert_dir is None and bearer is None:
            raise ValueError("without mTLS the gateway needs a token to call the services with")
        # With mTLS the service token acts for the company; a token of the key ring is used only without it.
        self.name, self.address, self.cert_dir = name, address, cert_dir
        self._bearer = None if cert_dir is not None else bearer
        module, service = STUBS[name]
        self._pb2 = importlib.import_module(f"{module}_pb2")
        self._stub_class = getattr(importlib.import_module(f"{module}_pb2_grpc"), f"{service}Stub")
        self._resilience = Resilience(name, policy)
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    async def export(self, subject: DataSubject) -> Exported:
        """Every record the service holds about the subject."""
        request = self._pb2.ExportSubjectDataRequest(subject=_subject(subject))
        reply = await self._call("ExportSubjectData", request, subject.company_id)
        records = json_format.MessageToDict(reply.records)
        found = sum(len(rows) for rows in records.values() if isinstance(rows, list))
        return Exported(Answer(found=found, exported=found), records)

    async def erase(self, subject: DataSubject, request_id: str) -> Answer:
        """Erases the subject; the service's counts of what it found, erased and kept."""
        request = self._pb2.EraseSubjectDataRequest(subject=_subject(subject), privacy_request_id=request_id)
        reply = await self._call("EraseSubjectData", request, subject.company_id)
        return Answer(
            found=reply.records_found,
            erased=reply.records_erased,
            retained=reply.records_retained,
            retained_reason=reply.retained_reason,
        )

    async def close(self) -> None:
        """Closes the channel, if one was opened."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    async def _call(self, method: str, request: Any, company_id: str) -> Any:
        stub = self._open()
        try:
            if self._bearer is None:
                with servicetokens.acting_for(company_id):
                    return await getattr(stub, method)(request)
            metadata = (("authorization", f"Bearer {self._bearer(company_id)}"),)
            return await getattr(stub, method)(request, metadata=metadata)
        except errors.Unavailable as exc:  # the open breaker or the full bulkhead: no network touched
            raise Unanswered(exc.message) from None
        except grpc.aio.AioRpcError as exc:
            message = f"{self.name} answered {exc.code().name}: {exc.details() or ''}".rstrip(": ")
            raise (Unanswered if exc.code() in UNANSWERED else Refused)(message) from None

    def _open(self) -> Any:
        if self._stub is None:
            interceptors = [self._resilience]
            if self._bearer is None:
                assert self.cert_dir is not None
                self._channel = channels.mesh_channel(
                    self.address, callee=self.name, caller="gateway", cert_dir=self.cert_dir, interceptors=interceptors
                )
            else:
                self._channel = channels.insecure_channel(self.address, interceptors=interceptors)
            self._stub = self._stub_class(self._channel)
        return self._stub


def _subject(subject: DataSubject) -> types_pb2.DataSubject:
    return types_pb2.DataSubject(profile_id=subject.profile_id, email=subject.email)
