"""The process's Prometheus metrics: every instrument the kit and the services record, named once here, the
scrape-time gauges read from their sources (outbox, connection pool, keys, certificates) when scraped, and the
HTTP endpoint that serves them (`TEEI_METRICS_PORT`; unset, no endpoint is opened)."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from wsgiref import simple_server
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from services.kit.config import Settings, setting
from services.kit.logs import get_logger

HEALTHZ_PATH = "/healthz"  # answered by the serving process itself, never collected
log = get_logger(__name__)

# Seconds; from a cached read (~1 ms) to the edge's longest route timeout.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# OpenTelemetry's `rpc.server.duration`, in seconds as Prometheus names it; the status is the numeric gRPC code.
RPC_SERVER_DURATION = prometheus_client.Histogram(
    "rpc_server_duration_seconds",
    "Duration of inbound RPCs by service, method and gRPC status code (OpenTelemetry rpc.server.duration).",
    ["rpc_service", "rpc_method", "rpc_grpc_status_code"],
    buckets=RPC_BUCKETS,
)
CONSUMER_LAG = prometheus_client.Gauge(
    "messaging_consumer_lag_messages", "Messages of the stream not yet delivered to the durable consumer.", ["durable"]
)
CONSUMER_ACK_PENDING = prometheus_client.Gauge(
    "messaging_consumer_ack_pending_messages",
    "Messages delivered to the durable and not yet acknowledged.",
    ["durable"],
)
CONSUMER_REDELIVERIES = prometheus_client.Counter(
    "messaging_consumer_redeliveries", "Deliveries of a message the durable had been given before.", ["durable"]
)
DEAD_LETTERS = prometheus_client.Gauge(
    "messaging_dead_letters", "Messages of the durable waiting in the dead-letter stream.", ["durable"]
)
DEAD_LETTERED = prometheus_client.Counter(
    "messaging_dead_lettered", "Messages the durable moved to the dead-letter stream.", ["durable"]
)
BREAKER_STATE = prometheus_client.Gauge(
    "rpc_client_breaker_state", "Circuit breaker of an outgoing target: 0 closed, 1 half-open, 2 open.", ["target"]
)
BULKHEAD_IN_USE = prometheus_client.Gauge(
    "rpc_client_bulkhead_in_use", "Calls to the target holding a bulkhead slot.", ["target"]
)
BULKHEAD_LIMIT = prometheus_client.Gauge("rpc_client_bulkhead_limit", "Bulkhead slots of the target.", ["target"])
BULKHEAD_REJECTED = prometheus_client.Counter(
    "rpc_client_bulkhead_rejected", "Calls refused because every bulkhead slot stayed taken.", ["target"]
)
IDEMPOTENCY_REPLAYS = prometheus_client.Counter(
    "idempotency_replays", "Calls answered from a stored response of the same Idempotency-Key.", ["rpc_method"]
)
RATELIMIT_VERDICTS = prometheus_client.Counter(
    "ratelimit_verdicts", "Rate-limit decisions asked by the edge, by domain and verdict.", ["domain", "verdict"]
)
IMPORT_ROWS = prometheus_client.Counter(
    "import_rows", "CSV import rows by import kind and outcome (accepted or quarantined).", ["kind", "outcome"]
)
JWKS_REFRESHES = prometheus_client.Counter(
    "auth_jwks_refreshes", "Fetches of the issuer's signing keys by outcome (ok or failed).", ["outcome"]
)
JWKS_LAST_REFRESH = prometheus_client.Gauge(
    "auth_jwks_last_refresh_timestamp_seconds", "When the issuer's signing keys were last fetched successfully."
)


class MetricsSettings(Settings):
    """Where the process serves its metrics; no port, no endpoint and no per-RPC recording."""

    port: int | None = setting("TEEI_METRICS_PORT", default=None)
    host: str = setting("TEEI_METRICS_HOST", default="127.0.0.1")


BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass(frozen=True)
class GaugeSource:
    """A gauge read when scraped: `read()` answers (label values, value) pairs; a failing read is skipped."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], Iterable[tuple[Sequence[str], float]]]


class _ScrapeTimeGauges(Collector):
    """Every registered GaugeSource, merged by metric name so that several sources (one per in-process
    service) share one family."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[object, GaugeSource] = {}

    def add(self, key: object, source: GaugeSource) -> None:
        with self._lock:
            self._sources[key] = source

    def remove(self, key: object) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sources = list(self._sources.values())
        families: dict[str, GaugeMetricFamily] = {}
        for source in sources:
            family = families.setdefault(
                source.name, GaugeMetricFamily(source.name, source.documentation, labels=list(source.labels))
            )
            try:
                samples = list(source.read())
            except Exception:  # a scrape must answer whatever one source does
                log.warning("metrics.source_failed", metric=source.name, exc_info=True)
                continue
            for labels, value in samples:
                family.add_metric(list(labels), value)
        yield from families.values()

    def describe(self) -> Iterator[Metric]:
        return iter(())


SCRAPE_TIME = _ScrapeTimeGauges()
prometheus_client.REGISTRY.register(SCRAPE_TIME)


def add_sources(key: object, sources: Iterable[GaugeSource]) -> Callable[[], None]:
    """Registers `sources` under `key`; the returned function removes them again."""
    keys = []
    for source in sources:
        SCRAPE_TIME.add((key, source.name), source)
        keys.append((key, source.name))

    def remove() -> None:
        for each in keys:
            SCRAPE_TIME.remove(each)

    return remove


WORKER_LABEL = "worker"


class _Federated(Collector):
    """The metrics of a service's worker processes (services/cli/workers.py), each scraped from its own
    endpoint when this one is, every series labelled with the worker's `worker` label: counters and
    histograms add up across workers (`sum by (...)`), a gauge read from the shared database appears once
    per worker. A worker that does not answer (restarting) is left out of that scrape."""

    def __init__(self, targets: Callable[[], Sequence[tuple[str, str]]], timeout: float) -> None:
        self._targets, self._timeout = targets, timeout

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for worker, url in self._targets():
            try:
                with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310 - loopback http
                    text = response.read().decode()
            except OSError:
                log.info("metrics.worker_unanswered", worker=worker, url=url)
                continue
            for family in text_string_to_metric_families(text):
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                merged.samples += [
                    Sample(s.name, {**s.labels, WORKER_LABEL: worker}, s.value, s.timestamp, s.exemplar)
                    for s in family.samples
                ]
        yield from families.values()

    def describe(self) -> Iterator[Metric]:
        return iter(())


def federated_registry(
    targets: Callable[[], Sequence[tuple[str, str]]], *, timeout: float = 5.0
) -> prometheus_client.CollectorRegistry:
    """A registry answering, when scraped, the metrics of every (worker label, URL) of `targets()`."""
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(_Federated(targets, timeout))
    return registry


def _with_healthz(app: Any) -> Any:
    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTHZ_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return app(environ, start_response)

    return serve


class _ReusePortServer(ThreadingWSGIServer):
    # A rolling restart's successor (services/cli/rolling.py) binds while its predecessor still serves.
    allow_reuse_port = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


class Endpoint:
    """The metrics HTTP endpoint of a process: GET /metrics in the Prometheus text format."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stops serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


def serve(
    port: int, *, host: str = "127.0.0.1", registry: prometheus_client.CollectorRegistry = prometheus_client.REGISTRY
) -> Endpoint:
    """Serves `registry` (the process's metrics) on `host:port` (0 picks a free port) in a daemon thread, and
    GET /healthz: 200 from this process itself, without collecting anything (a worker group's liveness)."""
    server = simple_server.make_server(
        host,
        port,
        _with_healthz(prometheus_client.make_wsgi_app(registry)),
        _ReusePortServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics.serving", host=host, port=server.server_port)
    return Endpoint(server, thread)
