"""The mesh's Grafana dashboards as code (grafana-foundation-sdk): mesh overview, events, imports and security,
written to observability/grafana/<uid>.json by `make gen` (`python -m services.cli.dashboards`); CI fails when
the committed files differ from what this generates. Every query reads metrics a live mesh exposes (a test
scrapes one and checks each name)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from services.cli.spec import REPO_ROOT

OUT = REPO_ROOT / "observability" / "grafana"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# gRPC codes that are the server's fault: UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS.
SERVER_ERRORS = 'rpc_grpc_status_code=~"2|4|13|14|15"'
EDGE = 'envoy_http_conn_manager_prefix="edge"'


@dataclass(frozen=True)
class Query:
    """One PromQL expression and its legend."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Graph:
    """One time-series panel."""

    title: str
    unit: str
    queries: Sequence[Query]
    description: str = ""


@dataclass(frozen=True)
class Row:
    """A titled row of panels, two per line."""

    title: str
    graphs: Sequence[Graph]


@dataclass(frozen=True)
class Board:
    """One dashboard."""

    uid: str
    title: str
    description: str
    rows: Sequence[Row]


def _rate(metric: str, by: str, selector: str = "") -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[5m]))"


MESH = Board(
    uid="teei-mesh-overview",
    title="teei: mesh overview",
    description="Rate, errors and duration per service; the edge's answers by status class; saturation.",
    rows=[
        Row(
            "Services (RED)",
            [
                Graph(
                    "Requests per second",
                    "reqps",
                    [Query(_rate("rpc_server_duration_seconds_count", "service"), "{{service}}")],
                ),
                Graph(
                    "Server-side error ratio",
                    "percentunit",
                    [
                        Query(
                            f"{_rate('rpc_server_duration_seconds_count', 'service', SERVER_ERRORS)}"
                            f" / {_rate('rpc_server_duration_seconds_count', 'service')}",
                            "{{service}}",
                        )
                    ],
                ),
                Graph(
                    "p99 duration",
                    "s",
                    [
                        Query(
                            f"histogram_quantile(0.99, {_rate('rpc_server_duration_seconds_bucket', 'service, le')})",
                            "{{service}}",
                        )
                    ],
                ),
                Graph(
                    "Calls by gRPC status",
                    "reqps",
                    [
                        Query(
                            _rate("rpc_server_duration_seconds_count", "rpc_grpc_status_code"),
                            "code {{rpc_grpc_status_code}}",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Edge",
            [
                Graph(
                    "Responses by status class",
                    "reqps",
                    [
                        Query(
                            _rate("envoy_http_downstream_rq_xx", "envoy_response_code_class", EDGE),
                            "{{envoy_response_code_class}}xx",
                        )
                    ],
                ),
                Graph(
                    "Edge p99 duration",
                    "ms",
                    [
                        Query(
                            f"histogram_quantile(0.99, {_rate('envoy_http_downstream_rq_time_bucket', 'le', EDGE)})",
                            "p99",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Saturation",
            [
                Graph(
                    "Bulkhead use",
                    "percentunit",
                    [
                        Query(
                            "sum by (service, target) (rpc_client_bulkhead_in_use)"
                            " / sum by (service, target) (rpc_client_bulkhead_limit)",
                            "{{service}} → {{target}}",
                        )
                    ],
                ),
                Graph(
                    "Breaker state (0 closed, 1 half-open, 2 open)",
                    "none",
                    [Query("max by (service, target) (rpc_client_breaker_state)", "{{service}} → {{target}}")],
                ),
                Graph(
                    "Database connections in use",
                    "none",
                    [Query("sum by (database) (db_pool_connections_in_use)", "{{database}}")],
                ),
                Graph(
                    "Process restarts (15 m)",
                    "none",
                    [Query("increase(teei_process_restarts_total[15m])", "{{resource}}")],
                ),
                Graph(
                    "Idempotent replays",
                    "reqps",
                    [Query(_rate("idempotency_replays_total", "service, rpc_method"), "{{service}} {{rpc_method}}")],
                ),
            ],
        ),
    ],
)

EVENTS = Board(
    uid="teei-events",
    title="teei: events",
    description="The outbox, the durable consumers and the dead letters.",
    rows=[
        Row(
            "Outbox",
            [
                Graph(
                    "Unpublished events", "none", [Query("sum by (database) (outbox_backlog_events)", "{{database}}")]
                ),
                Graph(
                    "Age of the oldest unpublished event",
                    "s",
                    [Query("max by (database) (outbox_oldest_unpublished_age_seconds)", "{{database}}")],
                ),
            ],
        ),
        Row(
            "Consumers",
            [
                Graph("Lag", "none", [Query("max by (durable) (messaging_consumer_lag_messages)", "{{durable}}")]),
                Graph(
                    "Unacknowledged",
                    "none",
                    [Query("max by (durable) (messaging_consumer_ack_pending_messages)", "{{durable}}")],
                ),
                Graph(
                    "Redeliveries per second",
                    "ops",
                    [Query(_rate("messaging_consumer_redeliveries_total", "durable"), "{{durable}}")],
                ),
            ],
        ),
        Row(
            "Dead letters",
            [
                Graph("Waiting", "none", [Query("max by (durable) (messaging_dead_letters)", "{{durable}}")]),
                Graph(
                    "Dead-lettered per hour",
                    "none",
                    [Query("sum by (durable) (increase(messaging_dead_lettered_total[1h]))", "{{durable}}")],
                ),
            ],
        ),
    ],
)

IMPORTS = Board(
    uid="teei-imports",
    title="teei: imports",
    description="CSV import rows accepted and quarantined per import kind, and the import RPCs.",
    rows=[
        Row(
            "Rows",
            [
                Graph(
                    "Rows per minute by outcome",
                    "none",
                    [Query("sum by (kind, outcome) (rate(import_rows_total[5m])) * 60", "{{kind}} {{outcome}}")],
                ),
                Graph(
                    "Quarantined share",
                    "percentunit",
                    [
                        Query(
                            'sum by (kind) (rate(import_rows_total{outcome="quarantined"}[1h]))'
                            " / sum by (kind) (rate(import_rows_total[1h]))",
                            "{{kind}}",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Import calls",
            [
                Graph(
                    "Import RPC p99",
                    "s",
                    [
                        Query(
                            "histogram_quantile(0.99, "
                            + _rate("rpc_server_duration_seconds_bucket", "service, le", 'rpc_method=~"Import.*"')
                            + ")",
                            "{{service}}",
                        )
                    ],
                ),
                Graph(
                    "Import RPCs by status",
                    "reqps",
                    [
                        Query(
                            _rate(
                                "rpc_server_duration_seconds_count",
                                "service, rpc_grpc_status_code",
                                'rpc_method=~"Import.*"',
                            ),
                            "{{service}} code {{rpc_grpc_status_code}}",
                        )
                    ],
                ),
            ],
        ),
    ],
)

SECURITY = Board(
    uid="teei-security",
    title="teei: security",
    description="Refusals at the edge (401, 403, 429) and in the services, key refreshes, key and certificate age.",
    rows=[
        Row(
            "Refusals",
            [
                Graph(
                    "Edge refusals per second",
                    "reqps",
                    [
                        Query(
                            _rate("envoy_http_jwt_authn_denied", "envoy_http_conn_manager_prefix", EDGE), "401 token"
                        ),
                        Query(
                            _rate("envoy_http_rbac_denied", "envoy_http_conn_manager_prefix", EDGE), "403 access rule"
                        ),
                        Query(_rate("ratelimit_verdicts_total", "domain", 'verdict="OVER_LIMIT"'), "429 {{domain}}"),
                    ],
                ),
                Graph(
                    "Service refusals per second",
                    "reqps",
                    [
                        Query(
                            _rate(
                                "rpc_server_duration_seconds_count",
                                "service, rpc_grpc_status_code",
                                'rpc_grpc_status_code=~"7|8|16"',
                            ),
                            "{{service}} code {{rpc_grpc_status_code}}",
                        )
                    ],
                    description="7 PERMISSION_DENIED (403), 8 RESOURCE_EXHAUSTED (429), 16 UNAUTHENTICATED (401).",
                ),
            ],
        ),
        Row(
            "Keys and certificates",
            [
                Graph(
                    "JWKS refreshes per hour",
                    "none",
                    [
                        Query(
                            "sum by (service, outcome) (increase(auth_jwks_refreshes_total[1h]))",
                            "{{service}} {{outcome}}",
                        ),
                        Query(
                            "sum(increase(envoy_http_jwt_authn_jwks_fetch_failed[1h]))",
                            "edge failed",
                        ),
                    ],
                ),
                Graph(
                    "Since the last JWKS refresh",
                    "s",
                    [Query("time() - max by (service) (auth_jwks_last_refresh_timestamp_seconds)", "{{service}}")],
                ),
                Graph("Signing key age", "s", [Query("max(gateway_signing_key_age_seconds)", "active key")]),
                Graph(
                    "Certificate time left",
                    "s",
                    [
                        Query("min by (identity) (tls_certificate_expiry_timestamp_seconds) - time()", "{{identity}}"),
                        Query("min(envoy_server_days_until_first_cert_expiring) * 86400", "edge"),
                    ],
                ),
            ],
        ),
    ],
)

BOARDS = (MESH, EVENTS, IMPORTS, SECURITY)


def build(board: Board) -> dashboard.Dashboard:
    """The Grafana dashboard of `board`."""
    built = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(["teei"])
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )
    for row in board.rows:
        built = built.with_row(dashboard.Row(row.title))
        for graph in row.graphs:
            built = built.with_panel(_panel(graph))
    return built


def _panel(graph: Graph) -> timeseries.Panel:
    panel = timeseries.Panel().title(graph.title).unit(graph.unit).datasource(DATASOURCE).span(12).height(8)
    if graph.description:
        panel = panel.description(graph.description)
    for ref, query in zip("ABCDEFGH", graph.queries, strict=False):
        panel = panel.with_target(prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref))
    return panel


def render(board: Board) -> str:
    """The dashboard's JSON as committed (stable key order, trailing newline)."""
    return json.dumps(build(board).build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def expressions(board: Board) -> list[str]:
    """Every PromQL expression of the dashboard."""
    return [query.expr for row in board.rows for graph in row.graphs for query in graph.queries]


def write(out: Path = OUT) -> list[Path]:
    """Writes every dashboard to `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for board in BOARDS:
        path = out / f"{board.uid}.json"
        path.write_text(render(board))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m services.cli.dashboards [OUT_DIR]`."""
    args = sys.argv[1:] if argv is None else list(argv)
    for path in write(Path(args[0]) if args else OUT):
        print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)


if __name__ == "__main__":
    main()
