"""Render the static Envoy bootstrap of the edge from typed settings.

The edge is one Envoy listener (HTTP/1.1 and h2c on the same port) in front of the gRPC
services. Its HTTP filter chain strips client-supplied identity headers, answers the
readiness probe (``envoy/readiness.lua``, fed by Envoy's active grpc.health.v1 checks),
transcodes REST/JSON to gRPC, and routes ``/<package>.<Service>/`` paths to one cluster per
upstream. The template is ``envoy/envoy.yaml.j2``; this module validates the settings and
fills it in. ``envoy --mode validate -c <file>`` accepts the result.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

from services.cli import openapi
from services.kit import mtls

ENVOY_DIR = Path(__file__).resolve().parents[2] / "envoy"
TEMPLATE_NAME = "envoy.yaml.j2"
READINESS_LUA_NAME = "readiness.lua"

# Cluster holding Envoy's own admin interface; read by the readiness script.
ADMIN_CLUSTER = "edge_admin"

# Identity is asserted by the edge (after authentication) and by the mesh, never by a
# client: every client-supplied copy of these headers is removed first thing.
# x-tenant-id is deliberately absent: it is the tenant source until authentication lands.
STRIPPED_REQUEST_HEADERS: tuple[str, ...] = (
    "x-jwt-payload",
    "x-teei-principal",
    "x-teei-role",
    "x-teei-claims",
    "x-teei-service-identity",
    "x-forwarded-client-cert",
)

HEALTH_CHECK_TIMEOUT_MS = 1000
ROUTE_TIMEOUT = "120s"  # a 50,000-row CSV import is one request
MAX_DOWNSTREAM_CONNECTIONS = 50_000

LIVENESS_BODY = '{"status":"alive"}'
NOT_FOUND_BODY = '{"code":5,"message":"no route for this path"}'

# Cluster names become Envoy stat names and the readiness script splits admin output on
# "::", so keep them to a plain identifier.
_UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# Fully qualified protobuf service name: package segments and the service, dot-separated.
_GRPC_SERVICE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Upstream:
    """One gRPC backend: a cluster named ``name`` serving ``grpc_services``."""

    name: str
    grpc_services: tuple[str, ...]
    host: str
    port: int

    @property
    def discovery_type(self) -> str:
        """STATIC for an IP literal, STRICT_DNS for a host name."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return "STRICT_DNS"
        return "STATIC"


@dataclass(frozen=True)
class UpstreamTls:
    """The edge's client certificate towards the services and the CA it trusts for them."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def of(cls, cert_dir: Path, name: str) -> UpstreamTls:
        """The files `teei certs` wrote for workload `name` in `cert_dir`."""
        return cls(
            ca=mtls.ca_cert_path(cert_dir).resolve(),
            cert=mtls.cert_path(cert_dir, name).resolve(),
            key=mtls.key_path(cert_dir, name).resolve(),
        )


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the edge config depends on."""

    listen_port: int
    admin_port: int
    descriptor_path: Path
    upstreams: tuple[Upstream, ...]
    health_interval_ms: int = 1000
    listen_address: str = "127.0.0.1"
    max_request_body_bytes: int = 64 * 1024 * 1024
    max_response_body_bytes: int = 64 * 1024 * 1024
    # Services the JSON transcoder serves (they must exist in the descriptor set);
    # None means every grpc service of every upstream.
    transcoded_services: tuple[str, ...] | None = None
    upstream_tls: UpstreamTls | None = None


def _check_port(what: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"{what} must be in 1..65535, got {port}")


def _validate_upstream(upstream: Upstream) -> None:
    if not _UPSTREAM_NAME.match(upstream.name) or upstream.name == ADMIN_CLUSTER:
        raise ValueError(f"invalid upstream name {upstream.name!r}")
    if not upstream.host or any(c.isspace() for c in upstream.host):
        raise ValueError(f"upstream {upstream.name!r}: invalid host {upstream.host!r}")
    _check_port(f"upstream {upstream.name!r} port", upstream.port)
    if not upstream.grpc_services:
        raise ValueError(f"upstream {upstream.name!r} has no grpc_services")
    for service in upstream.grpc_services:
        if not _GRPC_SERVICE.match(service):
            raise ValueError(f"upstream {upstream.name!r}: invalid service {service!r}")


def _validate(settings: EdgeSettings) -> None:
    _check_port("listen_port", settings.listen_port)
    _check_port("admin_port", settings.admin_port)
    if settings.listen_port == settings.admin_port:
        raise ValueError("listen_port and admin_port must differ")
    if settings.health_interval_ms <= 0:
        raise ValueError("health_interval_ms must be positive")
    ipaddress.ip_address(settings.listen_address)
    if not settings.upstreams:
        raise ValueError("at least one upstream is required")

    names: set[str] = set()
    services: set[str] = set()
    for upstream in settings.upstreams:
        _validate_upstream(upstream)
        if upstream.name in names:
            raise ValueError(f"duplicate upstream name {upstream.name!r}")
        names.add(upstream.name)
        for service in upstream.grpc_services:
            if service in services:
                raise ValueError(f"grpc service {service!r} is routed to two upstreams")
            services.add(service)

    if settings.transcoded_services is not None:
        unknown = sorted(set(settings.transcoded_services) - services)
        if unknown:
            raise ValueError(f"transcoded_services not served by any upstream: {unknown}")


def _duration(milliseconds: int) -> str:
    """Protobuf JSON Duration (seconds with a unit suffix) for a whole number of ms."""
    seconds, millis = divmod(milliseconds, 1000)
    return f"{seconds}s" if millis == 0 else f"{seconds}.{millis:03d}s"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ENVOY_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders YAML, not HTML; values are quoted with tojson
        keep_trailing_newline=True,
    )


def render_envoy_config(settings: EdgeSettings) -> str:
    """Return the Envoy bootstrap (YAML text) for ``settings``."""
    _validate(settings)
    all_services = tuple(s for u in settings.upstreams for s in u.grpc_services)
    transcoded = all_services if settings.transcoded_services is None else settings.transcoded_services
    readiness_fallback = json.dumps(
        {"status": "not_ready", "services": {u.name: "UNKNOWN" for u in settings.upstreams}},
        separators=(",", ":"),
    )
    template = _environment().get_template(TEMPLATE_NAME)
    return template.render(
        listen_address=settings.listen_address,
        listen_port=settings.listen_port,
        admin_port=settings.admin_port,
        descriptor_path=str(settings.descriptor_path.resolve()),
        upstreams=settings.upstreams,
        transcoded_services=transcoded,
        stripped_headers=STRIPPED_REQUEST_HEADERS,
        health_interval=_duration(settings.health_interval_ms),
        health_timeout=_duration(HEALTH_CHECK_TIMEOUT_MS),
        route_timeout=ROUTE_TIMEOUT,
        max_downstream_connections=MAX_DOWNSTREAM_CONNECTIONS,
        legacy_prefixes=_legacy_prefixes(settings.descriptor_path),
        deprecation=LEGACY_DEPRECATION,
        sunset=LEGACY_SUNSET,
        max_request_body_bytes=settings.max_request_body_bytes,
        max_response_body_bytes=settings.max_response_body_bytes,
        readiness_lua=(ENVOY_DIR / READINESS_LUA_NAME).read_text(encoding="utf-8"),
        liveness_body=LIVENESS_BODY,
        readiness_fallback_body=readiness_fallback,
        not_found_body=NOT_FOUND_BODY,
        upstream_tls=settings.upstream_tls,
        spiffe_prefix=mtls.spiffe_id(""),
    )


def write_envoy_config(settings: EdgeSettings, path: Path) -> Path:
    """Render the config and write it to ``path`` atomically; return ``path``."""
    text = render_envoy_config(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


# Unversioned routes were deprecated on 2026-12-01 (RFC 9745 structured date) and stop on the sunset.
LEGACY_DEPRECATION = "@1796083200"
LEGACY_SUNSET = "Sat, 01 Jan 2028 00:00:00 GMT"


def _legacy_prefixes(descriptor_path: Path) -> list[str]:
    """First path segments of every /v1 REST binding: their unversioned forms redirect to /v1."""
    if not descriptor_path.exists():
        return []
    return sorted({path.split("/")[2] for path in openapi.rest_paths(descriptor_path) if path.startswith("/v1/")})
