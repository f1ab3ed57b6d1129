"""Tracing set-up of a process: one TracerProvider named for the service, spans batched off the request
path and exported as OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT` when it is set."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, cast

import sqlalchemy as sa
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeter
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import Field

from services.kit import config
from services.kit.config import setting

TRACER_NAME = "teei"
DB_TRACER_NAME = "opentelemetry.instrumentation.sqlalchemy"
_db_tracer: trace.Tracer | None = None
NAMESPACE = "teei"


class TracingSettings(config.Settings):
    """Whether the process traces, what share of new traces it keeps, and where spans go."""

    enabled: bool = setting("TEEI_TRACING", default=True)
    # Share of traces started here (no sampled parent) that are kept; a caller's decision is followed.
    sample_ratio: Annotated[float, Field(ge=0.0, le=1.0)] = setting("OTEL_TRACES_SAMPLER_ARG", default=1.0)
    # Base URL of an OTLP/HTTP receiver; spans go to <endpoint>/v1/traces. Unset: spans are made (ids for
    # logs and error details) but not exported.
    endpoint: str | None = setting("OTEL_EXPORTER_OTLP_ENDPOINT", default=None)
    export_timeout_seconds: float = setting("OTEL_EXPORTER_OTLP_TIMEOUT_SECONDS", default=5.0)


class Tracing:
    """A process's tracing: the provider of its own spans and the one of database statements, which
    records a statement only inside a traced operation (never a root trace of its own, e.g. the relay's
    polling), sharing one export pipeline."""

    def __init__(self, service: str, settings: TracingSettings, processor: SpanProcessor | None = None) -> None:
        resource = Resource.create({"service.name": service, "service.namespace": NAMESPACE})
        self.provider = TracerProvider(resource=resource, sampler=sampler(settings.sample_ratio))
        self.db_provider = TracerProvider(resource=resource, sampler=ParentBased(root=ALWAYS_OFF))
        chosen = processor or _export_processor(settings)
        if chosen is not None:
            self.provider.add_span_processor(chosen)
            self.db_provider.add_span_processor(chosen)

    def shutdown(self) -> None:
        """Exports what is still queued (bounded by the exporter's timeout) and stops the export thread."""
        self.provider.shutdown()


def sampler(ratio: float) -> Sampler:
    """Parent-based: a sampled caller's trace is always continued; new traces are kept at `ratio`."""
    return ParentBased(root=TraceIdRatioBased(ratio))


def _export_processor(settings: TracingSettings) -> SpanProcessor | None:
    if not settings.endpoint:
        return None
    exporter: SpanExporter = OTLPSpanExporter(
        endpoint=settings.endpoint.rstrip("/") + "/v1/traces", timeout=settings.export_timeout_seconds
    )
    # Batched in a background thread: a slow or absent receiver costs a full queue (spans dropped),
    # never a request's time.
    return BatchSpanProcessor(exporter)


def configure(service: str, environ: Mapping[str, str], processor: SpanProcessor | None = None) -> Tracing | None:
    """Installs tracing for this process (W3C Trace Context propagation; statements of engines created
    from now on as spans); None when `TEEI_TRACING` is off. Call once, before any engine is created."""
    settings = config.load(TracingSettings, environ)
    if not settings.enabled:
        return None
    tracing = Tracing(service, settings, processor)
    trace.set_tracer_provider(tracing.provider)
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator()]))
    global _db_tracer  # noqa: PLW0603 - one process-wide tracer of database statements
    _db_tracer = tracing.db_provider.get_tracer(DB_TRACER_NAME)
    return tracing


_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """The tracer of the project's own spans (server calls, event relay and consumers), kept while the
    global provider stays the same (looking it up builds a new tracer on every call)."""
    global _tracer  # noqa: PLW0603 - one process-wide tracer per global provider
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(TRACER_NAME))
    return _tracer[1]


def instrument_engine(engine: sa.Engine) -> None:
    """Statements on `engine` become `db.*` CLIENT spans inside traced operations (OpenTelemetry's
    SQLAlchemy engine listeners, attached per engine: the package's global patching also wraps the
    asyncio extension, which needs greenlet). Nothing when the process does not trace."""
    if _db_tracer is None:
        return
    usage = NoOpMeter(DB_TRACER_NAME).create_up_down_counter("db.client.connections.usage")
    attach = cast(Callable[..., object], EngineTracer)  # the package ships no annotations
    attach(_db_tracer, engine, usage, enable_commenter=False)
