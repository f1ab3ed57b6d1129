"""The one place that resolves the caller's tenant for every request.

Until authentication lands the tenant comes from the `x-tenant-id` request metadata; the
security work replaces `resolve_tenant` and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from services.kit.access import AccessRule
from services.kit.errors import FieldViolation, InvalidArgument, Unauthenticated

TENANT_HEADER = "x-tenant-id"
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_current: ContextVar[str | None] = ContextVar("teei_tenant", default=None)


def resolve_tenant(metadata: Mapping[str, str], rule: AccessRule) -> str | None:
    """The tenant of this call; required for every non-public RPC."""
    raw = metadata.get(TENANT_HEADER)
    if raw is None:
        if rule.public:
            return None
        raise Unauthenticated("no tenant: the request carries no caller identity")
    if not _TENANT_ID.match(raw):
        raise InvalidArgument(
            "malformed tenant id",
            violations=[FieldViolation(TENANT_HEADER, "lower-case letters, digits, '-' or '_', 1-63 chars")],
        )
    return raw


def current_tenant() -> str:
    """The tenant of the RPC being served; handlers scope every query to it."""
    tenant = _current.get()
    if tenant is None:
        raise Unauthenticated("no tenant bound to this call")
    return tenant


@contextmanager
def bound_tenant(tenant: str | None) -> Iterator[None]:
    """Binds the tenant for the duration of one call."""
    token = _current.set(tenant)
    try:
        yield
    finally:
        _current.reset(token)
