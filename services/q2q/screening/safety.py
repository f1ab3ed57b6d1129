"""The synchronous call to Safety's ScreenText: one resilient channel, proto ⇄ Safety's verdict.

Calls go through the kit: `Resilience` (deadline bounded by the caller's remaining time, retries of
the idempotent ScreenText, a breaker and a bulkhead for the Safety target) on a mesh channel (mTLS
and a service token; TEEI_MTLS_DIR) or, without mTLS, on a plaintext channel with the same interceptor.
The end user's bearer token is sent explicitly with each call: Safety checks its own permission and
takes the tenant from it, and the background retrier has no RPC whose token the kit could pass on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

from services.kit import errors
from services.kit.grpc import channels
from services.kit.grpc.resilience import CallPolicy, Resilience
from services.q2q.domain.commands import SourceText
from services.q2q.domain.errors import ScreeningRefused
from services.q2q.domain.model import SourceRef
from services.q2q.wire import SOURCE_TO_PROTO
from teei.common.v1 import types_pb2
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

TARGET = "safety"
# Safety could not answer (outage, overload, its own failure): the text is kept and screened later.
UNANSWERED = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
_OUTCOMES = {
    types_pb2.SCREENING_OUTCOME_PASSED: (True, False),
    types_pb2.SCREENING_OUTCOME_UNSAFE: (False, True),
    types_pb2.SCREENING_OUTCOME_PENDING_REVIEW: (False, False),
}


class ScreeningUnavailable(Exception):
    """Safety gave no answer: breaker open, bulkhead full, deadline exceeded, unreachable or failing."""


@dataclass(frozen=True)
class ScreeningRequest:
    """A text to screen, the record holding it, and its author."""

    company_id: str
    source: SourceRef
    profile_id: str
    text: str


class Screener(Protocol):
    """Screens a text at Safety as the end user whose bearer token is given (or, with None, as Q2Q itself
    acting for the request's tenant: `acts_for_tenants`), within `seconds` if given."""

    @property
    def acts_for_tenants(self) -> bool:
        """Whether calls without a bearer token can act for a tenant (mTLS service tokens)."""
        ...

    async def screen(
        self, request: ScreeningRequest, *, bearer: str | None, seconds: float | None = None
    ) -> SourceText:
        """Safety's verdict and redacted text; ScreeningUnavailable or ScreeningRefused otherwise."""
        ...


class SafetyScreener:
    """Screens texts through one channel to Safety, built on first use (inside the serving event loop)."""

    def __init__(self, address: str, policy: CallPolicy, *, cert_dir: Path | None = None) -> None:
        self.address, self.cert_dir = address, cert_dir
        self.resilience = Resilience(TARGET, policy)
        self._channel: grpc.aio.Channel | None = None
        self._stub: safety_pb2_grpc.SafetyServiceAsyncStub | None = None

    @property
    def acts_for_tenants(self) -> bool:
        """With mTLS, calls carry a service token that can act for a tenant (inside `acting_for`)."""
        return self.cert_dir is not None

    async def screen(
        self, request: ScreeningRequest, *, bearer: str | None, seconds: float | None = None
    ) -> SourceText:
        """Safety's verdict and redacted text; ScreeningUnavailable or ScreeningRefused otherwise."""
        metadata = () if bearer is None else (("authorization", f"Bearer {bearer}"),)
        try:
            answer = await self._safety().ScreenText(screen_request(request), metadata=metadata, timeout=seconds)
        except errors.Unavailable as exc:  # refused by the open breaker or the full bulkhead, no network
            raise ScreeningUnavailable(exc.message) from None
        except grpc.aio.AioRpcError as exc:
            if exc.code() in UNANSWERED:
                raise ScreeningUnavailable(f"safety answered {exc.code().name}") from None
            raise ScreeningRefused(
                "safety refused to screen the text", metadata={"safety_code": exc.code().name}
            ) from None
        return verdict(request, answer)

    async def close(self) -> None:
        """Closes the channel, if one was opened."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    def _safety(self) -> safety_pb2_grpc.SafetyServiceAsyncStub:
        if self._stub is None:
            self._channel = self._open()
            self._stub = safety_pb2_grpc.SafetyServiceStub(self._channel)
        assert self._stub is not None
        return self._stub

    def _open(self) -> grpc.aio.Channel:
        if self.cert_dir is None:
            return channels.insecure_channel(self.address, interceptors=[self.resilience])
        return channels.mesh_channel(
            self.address, callee=TARGET, caller="q2q", cert_dir=self.cert_dir, interceptors=[self.resilience]
        )


def screen_request(request: ScreeningRequest) -> safety_pb2.ScreenTextRequest:
    """The ScreenText request: never a dry run, so Safety records flags and queues reviews."""
    return safety_pb2.ScreenTextRequest(
        text=request.text,
        source_text_id=request.source.source_id,
        source_text_type=SOURCE_TO_PROTO[request.source.source_type],
        profile_id=request.profile_id,
        dry_run=False,
    )


def verdict(request: ScreeningRequest, answer: safety_pb2.ScreenTextResponse) -> SourceText:
    """Safety's answer as the command event-screened texts use; only the redacted text goes on."""
    if answer.summary.outcome not in _OUTCOMES:
        raise ScreeningRefused("safety answered without a verdict", metadata={"outcome": str(answer.summary.outcome)})
    safe, unsafe = _OUTCOMES[answer.summary.outcome]
    return SourceText(
        company_id=request.company_id,
        source=request.source,
        profile_id=request.profile_id,
        text=answer.redacted_text,
        screened_safe=safe,
        screened_unsafe=unsafe,
        review_id=answer.summary.review_id,
    )
