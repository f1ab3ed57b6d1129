"""Error reports to Sentry (`SENTRY_DSN`; unset, nothing is sent): unexpected exceptions of an RPC and calls
that end UNKNOWN or INTERNAL, with the RPC, the tenant, the release and the active trace id. Before anything
leaves the process, `scrub` removes tokens, secrets and personal data from the event."""

from __future__ import annotations

import contextvars
import importlib.metadata
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import sentry_sdk
import structlog
from opentelemetry import trace
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.threading import ThreadingIntegration

from services.kit.config import Settings, setting

REPORTED_CODES = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL})
FILTERED = "[Filtered]"
# Keys whose values are never sent, whatever they hold (compared lower-case, as substrings).
SECRET_KEYS = ("authorization", "token", "secret", "password", "cookie", "api_key", "apikey", "credential", "email")
_PATTERNS = (
    (re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"), "Bearer " + FILTERED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), FILTERED),  # a JWT
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]+"), FILTERED),  # a webhook secret
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
)


class ErrorReportSettings(Settings):
    """Where error reports go; no DSN, no reports."""

    dsn: str | None = setting("SENTRY_DSN", default=None, secret=True)
    environment: str = setting("SENTRY_ENVIRONMENT", default="local")
    # Defaults to the installed package's version.
    release: str | None = setting("SENTRY_RELEASE", default=None)


@dataclass
class _Call:
    """What is known of the RPC being served, for its report."""

    method: str
    tenant: str | None = None
    reported: bool = False


_call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("teei_error_report_call", default=None)


def configure(settings: ErrorReportSettings, *, service: str) -> bool:
    """Starts the Sentry client when a DSN is set; True when reports are sent."""
    if not settings.dsn:
        return False
    sentry_sdk.init(
        dsn=settings.dsn,
        release=settings.release or f"teei-mesh@{_version()}",
        environment=settings.environment,
        server_name=service,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,
        # Explicit reports only (no logging integration: every `log.exception` would be a second report),
        # plus uncaught exceptions of the process and its threads, sent before the process exits.
        default_integrations=False,
        integrations=[ExcepthookIntegration(), ThreadingIntegration(), DedupeIntegration(), AtexitIntegration()],
    )
    sentry_sdk.set_tag("service", service)
    return True


def close(timeout: float = 2.0) -> None:
    """Sends what is queued and stops the client."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=timeout)


@contextmanager
def call_scope(method: str) -> Iterator[None]:
    """Marks the code within as serving RPC `method`."""
    token = _call.set(_Call(method))
    try:
        yield
    finally:
        _call.reset(token)


def note_tenant(tenant: str | None) -> None:
    """Records the authenticated caller's tenant for a report of the current call."""
    call = _call.get()
    if call is not None:
        call.tenant = tenant


def capture_exception(exc: BaseException, *, metadata: Mapping[str, str] | None = None) -> None:
    """Reports an unexpected exception with the call's context (`metadata` is scrubbed like the rest)."""
    if not sentry_sdk.get_client().is_active():
        return
    call = _call.get()
    with sentry_sdk.new_scope() as scope:
        _describe(scope, call, metadata)
        sentry_sdk.capture_exception(exc)
    if call is not None:
        call.reported = True


def report_status(code: grpc.StatusCode, method: str) -> None:
    """Reports a call that ended UNKNOWN or INTERNAL unless its exception was reported already."""
    call = _call.get()
    if code not in REPORTED_CODES or (call is not None and call.reported) or not sentry_sdk.get_client().is_active():
        return
    with sentry_sdk.new_scope() as scope:
        _describe(scope, call, None)
        sentry_sdk.capture_message(f"{method} ended with {code.name}", level="error")


def _describe(scope: sentry_sdk.Scope, call: _Call | None, metadata: Mapping[str, str] | None) -> None:
    bound = structlog.contextvars.get_contextvars()
    if call is not None:
        scope.set_tag("rpc.method", call.method)
        scope.set_tag("tenant", call.tenant or "none")
    if "request_id" in bound:
        scope.set_tag("request_id", str(bound["request_id"]))
    trace_id = current_trace_id()
    if trace_id is not None:
        scope.set_tag("trace_id", trace_id)
        scope.set_context("otel", {"trace_id": trace_id})
    if metadata:
        scope.set_context("rpc_metadata", dict(metadata))


def current_trace_id() -> str | None:
    """The active OpenTelemetry span's trace id in hex, if a span is recording one."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def scrub(event: Any, hint: Any) -> Any:
    """Sentry's `before_send`: the event without secrets, tokens or personal data."""
    cleaned = _clean(event)
    user = cleaned.get("user") if isinstance(cleaned, dict) else None
    if isinstance(user, dict):
        cleaned["user"] = {k: v for k, v in user.items() if k == "id"}
    return cleaned


def _clean(value: Any, key: str = "") -> Any:
    if key and any(word in key.lower() for word in SECRET_KEYS):
        return FILTERED
    if isinstance(value, dict):
        return {k: _clean(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
    return value


def _version() -> str:
    try:
        return importlib.metadata.version("teei-mesh")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
