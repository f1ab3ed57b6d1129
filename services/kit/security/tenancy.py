"""The caller of the RPC being served: its Principal and tenant, bound once by the auth interceptor.

The tenant is never read from a request field or header: it is the `company` claim of the access
token that `services.kit.grpc.interceptors.AuthInterceptor` validated. Handlers scope every query to
`current_tenant()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from services.kit.errors import PermissionDenied, Unauthenticated
from services.kit.security.auth import Principal

_principal: ContextVar[Principal | None] = ContextVar("teei_principal", default=None)
_bearer: ContextVar[str | None] = ContextVar("teei_bearer", default=None)


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("no authenticated caller bound to this call")
    return principal


def current_tenant() -> str:
    """The tenant of the RPC being served; handlers scope every query to it."""
    tenant = current_principal().tenant
    if tenant is None:
        # A platform operator's token without a company names no tenant's data.
        raise PermissionDenied("this call needs a token that names a company", metadata={"reason": "NO_TENANT"})
    return tenant


def current_bearer() -> str | None:
    """The caller's access token, passed on by internal calls made while serving its RPC."""
    return _bearer.get()


@contextmanager
def bound_principal(principal: Principal | None, bearer: str | None = None) -> Iterator[None]:
    """Binds the caller (None for a public RPC) and its token for the duration of one call."""
    token, raw = _principal.set(principal), _bearer.set(bearer)
    try:
        yield
    finally:
        _bearer.reset(raw)
        _principal.reset(token)


@dataclass(frozen=True)
class ServiceCaller:
    """A mesh service proven by its certificate and service token, and the tenant it acts for (if any)."""

    identity: str
    tenant: str | None


_service_caller: ContextVar[ServiceCaller | None] = ContextVar("teei_service_caller", default=None)


@contextmanager
def verified_caller(caller: ServiceCaller) -> Iterator[None]:
    """Binds the verified service caller for the RPC being served (the trust-policy interceptor does)."""
    token = _service_caller.set(caller)
    try:
        yield
    finally:
        _service_caller.reset(token)


def current_service_caller() -> ServiceCaller | None:
    """The verified mesh service calling the RPC being served, or None (the edge, or no mTLS)."""
    return _service_caller.get()
