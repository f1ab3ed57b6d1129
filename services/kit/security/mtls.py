"""Mutual TLS between services: server and channel credentials, and the interceptor enforcing the trust policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import grpc

from services.kit import errors
from services.kit.audit import denials as denial_log
from services.kit.audit.records import Actor, ActorKind
from services.kit.grpc import call_headers
from services.kit.grpc.interceptors import ScopedInterceptor
from services.kit.logs import get_logger
from services.kit.security import servicetokens, tenancy
from services.kit.security.auth import TokenRejected
from services.kit.security.certificates import (
    CertificateReloader,
    ca_cert_path,
    cert_path,
    identity_of_pem,
    key_path,
    read_pair,
    spiffe_id,
    workload_name,
)
from services.kit.security.trust_policy import PolicyError, TrustPolicy

# The certificate layout is listed too: callers of mTLS (the edge's config, tests) locate files with it.
__all__ = [
    "TrustPolicyInterceptor",
    "ca_cert_path",
    "cert_path",
    "channel_credentials",
    "key_path",
    "peer_identity",
    "peer_pem",
    "reloading_server_credentials",
    "server_credentials",
    "spiffe_id",
]

log = get_logger(__name__)
_HEALTH_PREFIX = "/grpc.health.v1.Health/"


def server_credentials(cert_dir: Path, name: str) -> grpc.ServerCredentials:
    """Server credentials fixed at start: present `name`'s certificate, require a CA-signed client certificate."""
    pair = read_pair(cert_dir, name)
    return grpc.ssl_server_credentials([(pair.key, pair.cert)], root_certificates=pair.ca, require_client_auth=True)


def reloading_server_credentials(cert_dir: Path, name: str) -> grpc.ServerCredentials:
    """Like server_credentials, but new connections pick up rotated files without a restart."""
    reloader = CertificateReloader(cert_dir, name)
    # grpc treats a None answer as "unchanged"; its type stub only declares the configuration.
    fetcher = cast("Callable[[], grpc.ServerCertificateConfiguration]", reloader)
    return grpc.dynamic_ssl_server_credentials(reloader.initial(), fetcher, require_client_authentication=True)


def channel_credentials(cert_dir: Path, name: str) -> grpc.ChannelCredentials:
    """Client credentials of `name`: present its certificate, trust only the mesh CA."""
    pair = read_pair(cert_dir, name)
    return grpc.ssl_channel_credentials(root_certificates=pair.ca, private_key=pair.key, certificate_chain=pair.cert)


def peer_pem(context: grpc.aio.ServicerContext[Any, Any]) -> bytes | None:
    """The caller's verified client certificate (PEM), or None without one.

    grpc puts the leaf certificate in `x509_pem_cert` only after verifying its chain against the
    server's trust roots, so what it holds is a verified identity.
    """
    return next(iter(context.auth_context().get("x509_pem_cert", ())), None)


def peer_identity(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The SPIFFE ID of the caller's verified client certificate, or None without one."""
    pem = peer_pem(context)
    return None if pem is None else identity_of_pem(pem)


class TrustPolicyInterceptor(ScopedInterceptor):
    """Refuses callers whose verified identity the policy does not allow to call this service.

    Health checks are open to any member of the trust domain, so probes need no grant. A mesh
    service (any caller but the edge, which carries end users' tokens) must also present a service
    token signed with its certificate's key and meant for this service (`servicetokens`). Refusals
    are raised as domain errors: the error interceptor outside this one maps them to a status.
    """

    def __init__(
        self,
        policy: TrustPolicy,
        service_name: str,
        *,
        edge: frozenset[str] = frozenset({"edge"}),
        denials: denial_log.Recorder | None = None,
    ) -> None:
        if service_name not in policy.callers:
            raise PolicyError(f"services: no entry for {service_name!r}; every served service needs one")
        self._policy, self._service, self._edge = policy, service_name, edge
        self._denials = denials

    @asynccontextmanager
    async def scope(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        identity = peer_identity(context)
        is_health = details.method.startswith(_HEALTH_PREFIX)
        if not (self._policy.is_member(identity) if is_health else self._policy.allows(self._service, identity)):
            refusal = self._refusal(identity, details.method)
            if identity is not None and self._denials is not None:
                # The peer's certificate proves who it is: the refusal is attributed to its SPIFFE id.
                actor = Actor(ActorKind.SERVICE, identity)
                denial = denial_log.of(refusal, rpc=details.method, actor=actor)
                if denial is not None:
                    await self._denials.record(denial)
            raise refusal
        if is_health or identity is None or workload_name(identity) in self._edge:
            yield
            return
        with tenancy.verified_caller(self._service_caller(identity, details.method, context)):
            yield

    def _service_caller(
        self, identity: str, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> tenancy.ServiceCaller:
        token = call_headers.headers(context).get(servicetokens.HEADER)
        try:
            if not token:
                raise TokenRejected("SERVICE_TOKEN_MISSING", "internal calls carry a service token")
            return servicetokens.verify(token, peer_pem(context) or b"", callee=self._service)
        except TokenRejected as exc:
            log.warning("mtls.service_token_rejected", caller=identity, rpc_method=method, reason=exc.reason)
            raise

    def _refusal(self, identity: str | None, method: str) -> errors.DomainError:
        log.warning("mtls.denied", caller=identity, rpc_method=method, service=self._service)
        if identity is None:
            return errors.Unauthenticated("no verified mesh identity on this connection")
        return errors.PermissionDenied(f"{identity} may not call {self._service}")
