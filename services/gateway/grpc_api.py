"""GatewayService servicer: proto → command through wire, the handler or SSO flow, domain → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

import grpc

from services.gateway import handlers, queries, wire
from services.gateway.domain.commands import ReceivePrivacyRequest
from services.gateway.domain.errors import DiagnosticFailure
from services.gateway.domain.privacy import PrivacyRequest, RequestKind, bundle_expires_at
from services.gateway.domain.tokens import TokenSettings
from services.gateway.dsr import wire as dsr_wire
from services.gateway.dsr.worker import PrivacyWorker
from services.gateway.keys.ring import KeyRing
from services.gateway.repository import GatewayUnitOfWork
from services.gateway.sso import flow
from services.kit import paging
from services.kit.persistence import idempotency
from services.kit.security.tenancy import current_principal, current_tenant
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

EXPORT, ERASURE = RequestKind.EXPORT, RequestKind.ERASURE
# Roles that see every privacy request of their company; anyone else sees only the ones they made.
COMPANY_VIEWERS = frozenset({"company_admin", "super_admin"})
Bundle = dict[str, Any] | None

Context = grpc.aio.ServicerContext[Any, Any]


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    """Serves the JWKS, the token endpoint, SSO and data-subject requests."""

    def __init__(
        self,
        *,
        uow: GatewayUnitOfWork,
        keys: KeyRing,
        settings: TokenSettings,
        clock: Callable[[], datetime],
        sso_parts: flow.SsoParts,
        privacy: PrivacyWorker,
        bundles_kept_for: timedelta | None = None,
    ) -> None:
        self._uow = uow
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._sso = sso_parts
        self._privacy = privacy
        # How long an export's bundle is kept after completion (the retention policy's dsr_bundles).
        self._kept_for = bundles_kept_for

    async def GetJwks(self, request: gateway_pb2.GetJwksRequest, context: Context) -> gateway_pb2.GetJwksResponse:
        published = await asyncio.to_thread(self._keys.published)
        max_age = int(self._keys.policy.jwks_max_age.total_seconds())
        # Envoy's transcoder turns response metadata into HTTP headers.
        await context.send_initial_metadata((("cache-control", f"public, max-age={max_age}"),))
        return wire.jwks_response(published)

    async def IssueToken(
        self, request: gateway_pb2.IssueTokenRequest, context: Context
    ) -> gateway_pb2.IssueTokenResponse:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        command = wire.issue_token(request, metadata)
        issued = await asyncio.to_thread(
            handlers.issue_token, command, uow=self._uow, keys=self._keys, settings=self._settings, clock=self._clock
        )
        await context.send_initial_metadata(wire.NO_STORE)
        return wire.issue_token_response(issued)

    async def SsoLogin(self, request: gateway_pb2.SsoLoginRequest, context: Context) -> gateway_pb2.SsoLoginResponse:
        url = await flow.start_login(wire.start_sso_login(request), parts=self._sso)
        await context.send_initial_metadata(wire.redirect_headers(url))
        return gateway_pb2.SsoLoginResponse(body=wire.redirect_page(url), authorization_url=url)

    async def SsoCallback(
        self, request: gateway_pb2.SsoCallbackRequest, context: Context
    ) -> gateway_pb2.SsoCallbackResponse:
        completed = await flow.complete_login(wire.complete_sso_login(request), parts=self._sso)
        if completed.redirect_to:
            await context.send_initial_metadata(wire.redirect_headers(completed.redirect_to))
            return gateway_pb2.SsoCallbackResponse(body=wire.redirect_page(completed.redirect_to))
        await context.send_initial_metadata(wire.NO_STORE)
        return gateway_pb2.SsoCallbackResponse(body=wire.token_body(completed.issued))

    async def RaiseDiagnosticError(
        self, request: gateway_pb2.RaiseDiagnosticErrorRequest, context: Context
    ) -> NoReturn:
        raise DiagnosticFailure(wire.diagnostic_note(request))

    async def ExportOwnData(
        self, request: gateway_pb2.ExportOwnDataRequest, context: Context
    ) -> gateway_pb2.ExportOwnDataResponse:
        command = dsr_wire.own_request(EXPORT, current_principal(), current_tenant(), key=_key(request, context))
        received, bundle = await self._receive(command)
        exports, struct = dsr_wire.exports(bundle), dsr_wire.bundle_struct(bundle)
        return gateway_pb2.ExportOwnDataResponse(request=received, exports=exports, bundle=struct)

    async def DeleteOwnData(
        self, request: gateway_pb2.DeleteOwnDataRequest, context: Context
    ) -> gateway_pb2.DeleteOwnDataResponse:
        command = dsr_wire.own_request(
            ERASURE, current_principal(), current_tenant(), key=_key(request, context), reason=request.reason,
            confirm=request.confirm,
        )  # fmt: skip
        received, _ = await self._receive(command)
        return gateway_pb2.DeleteOwnDataResponse(request=received)

    async def ExportSubjectData(
        self, request: gateway_pb2.ExportSubjectDataRequest, context: Context
    ) -> gateway_pb2.ExportSubjectDataResponse:
        command = dsr_wire.subject_request(
            EXPORT, request.subject, current_principal(), current_tenant(), key=_key(request, context),
            reason=request.reason,
        )  # fmt: skip
        received, bundle = await self._receive(command)
        exports, struct = dsr_wire.exports(bundle), dsr_wire.bundle_struct(bundle)
        return gateway_pb2.ExportSubjectDataResponse(request=received, exports=exports, bundle=struct)

    async def DeleteSubjectData(
        self, request: gateway_pb2.DeleteSubjectDataRequest, context: Context
    ) -> gateway_pb2.DeleteSubjectDataResponse:
        command = dsr_wire.subject_request(
            ERASURE, request.subject, current_principal(), current_tenant(), key=_key(request, context),
            reason=request.reason, confirm=request.confirm,
        )  # fmt: skip
        received, _ = await self._receive(command)
        return gateway_pb2.DeleteSubjectDataResponse(request=received)

    async def GetPrivacyRequest(
        self, request: gateway_pb2.GetPrivacyRequestRequest, context: Context
    ) -> gateway_pb2.GetPrivacyRequestResponse:
        found, bundle = await asyncio.to_thread(self._get, request.request_id, _viewer())
        answer = self._to_proto(found)
        return gateway_pb2.GetPrivacyRequestResponse(request=answer, bundle=dsr_wire.bundle_struct(bundle))

    async def ListPrivacyRequests(
        self, request: gateway_pb2.ListPrivacyRequestsRequest, context: Context
    ) -> gateway_pb2.ListPrivacyRequestsResponse:
        viewer = _viewer()
        kind = dsr_wire.KIND_FROM_PROTO.get(request.kind)
        status, expired = dsr_wire.status_filter(request.status)
        scope = (
            viewer.company_id,
            "" if viewer.sees_company else viewer.subject,
            str(request.kind),
            str(request.status),
        )
        page = paging.page_request(request.page_size, request.page_token, scope=scope)
        after = None if page.after is None else paging.time_and_id(page.after)
        found = await asyncio.to_thread(
            queries.list_privacy_requests, viewer, kind=kind, status=status, bundle_expired=expired, after=after,
            limit=page.size + 1, uow=self._uow, kept_for=self._kept_for, clock=self._clock,
        )  # fmt: skip
        shown = found[: page.size]
        last = shown[-1].request if shown else None
        token = page.next_token((last.created_at, last.request_id), more=len(found) > page.size) if last else ""
        requests = [
            dsr_wire.to_proto(v.request, bundle_expires_at=v.bundle_expires_at, bundle_expired=v.bundle_expired)
            for v in shown
        ]
        return gateway_pb2.ListPrivacyRequestsResponse(requests=requests, next_page_token=token)

    async def _receive(self, command: ReceivePrivacyRequest) -> tuple[gateway_pb2.PrivacyRequest, Bundle]:
        """Records the request (or finds the one made first with the same id) and wakes the worker; a
        completed export comes back with its bundle."""
        services = self._privacy.service_names
        received, fresh = await asyncio.to_thread(
            handlers.receive_privacy_request, command, services=services, uow=self._uow, clock=self._clock
        )
        if fresh:
            self._privacy.wake()
        return self._to_proto(received), await self._bundle(received, command.requested_by)

    async def _bundle(self, received: PrivacyRequest, requester: str) -> Bundle:
        """A settled export's bundle (PrivacyBundleExpired once it is no longer kept)."""
        if received.kind is not EXPORT or not received.settled:
            return None
        viewer = queries.Viewer(received.subject.company_id, requester, sees_company=False)
        _, bundle = await asyncio.to_thread(self._get, received.request_id, viewer)
        return bundle

    def _get(self, request_id: str, viewer: queries.Viewer) -> tuple[PrivacyRequest, Bundle]:
        kept_for, clock = self._kept_for, self._clock
        return queries.get_privacy_request(request_id, viewer, uow=self._uow, kept_for=kept_for, clock=clock)

    def _to_proto(self, request: PrivacyRequest) -> gateway_pb2.PrivacyRequest:
        return dsr_wire.to_proto(request, bundle_expires_at=bundle_expires_at(request, self._kept_for))


def _key(request: Any, context: Context) -> str:
    """The client's id of the request: the request_id field, else the Idempotency-Key header."""
    return str(request.request_id) or idempotency.key_of(context) or ""


def _viewer() -> queries.Viewer:
    principal = current_principal()
    return queries.Viewer(current_tenant(), principal.subject, sees_company=principal.role in COMPANY_VIEWERS)
