"""Typed settings of the edge and their validation: what the Envoy bootstrap depends on.

Validation happens before rendering so a bad setting fails with its name instead of as an Envoy
start-up error.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from services.kit.grpc.server import MAX_METADATA_BYTES
from services.kit.security import mtls
from services.kit.security.access import AccessRule

ENVOY_DIR = Path(__file__).resolve().parents[2] / "envoy"
TEMPLATE_NAME = "envoy.yaml.j2"
READINESS_LUA_NAME = "readiness.lua"
REDIRECT_LUA_NAME = "redirect.lua"
URL_LIMIT_LUA_NAME = "url_limit.lua"
BODY_CAPTURE_LUA_NAME = "body_capture.lua"
BODY_FIELDS_LUA_NAME = "body_fields.lua"
RATELIMIT_HEADERS_LUA_NAME = "ratelimit_headers.lua"

# Cluster holding Envoy's own admin interface; read by the readiness script.
ADMIN_CLUSTER = "edge_admin"
JWKS_CLUSTER = "edge_jwks"
RATELIMIT_CLUSTER = "edge_ratelimit"
RESERVED_CLUSTERS = frozenset({ADMIN_CLUSTER, JWKS_CLUSTER, RATELIMIT_CLUSTER, "otlp_collector"})
RATELIMIT_WORKLOAD = "ratelimit"

# Identity is asserted by the edge (after authentication) and by the mesh, never by a
# client: every client-supplied copy of these headers is removed first thing. The tenant comes
# only from the verified token's `company` claim, so x-tenant-id goes too.
STRIPPED_REQUEST_HEADERS: tuple[str, ...] = (
    "x-jwt-payload",
    "x-tenant-id",
    "x-company-id",
    "x-user-id",
    "x-remote-user",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-forwarded-client-cert",
    "x-client-cert",
    "x-ssl-client-cert",
    "x-spiffe-id",
    "x-teei-principal",
    "x-teei-role",
    "x-teei-claims",
    "x-teei-service-identity",
)
# Every header starting with one of these is removed as well.
STRIPPED_REQUEST_HEADER_PREFIXES: tuple[str, ...] = ("x-teei-",)
# Upstream-internal response headers a client never sees.
STRIPPED_RESPONSE_HEADERS: tuple[str, ...] = ("server", "x-envoy-upstream-service-time", "x-teei-http-status")
# Set on every answer of the edge (OVERWRITE); cache-control only where the service set none.
SECURITY_RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
)
DEFAULT_BLOCKED_USER_AGENTS: tuple[str, ...] = (
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "nuclei",
    "dirbuster",
    "gobuster",
    "wpscan",
    "acunetix",
    "nessus",
    "havij",
    "w3af",
)
# The REST bindings use GET and POST; native gRPC is POST.
DEFAULT_ALLOWED_METHODS: tuple[str, ...] = ("GET", "POST")
MIB = 1024 * 1024

HEALTH_CHECK_TIMEOUT_MS = 1000
ROUTE_TIMEOUT = "120s"  # a 50,000-row CSV import is one request
MAX_DOWNSTREAM_CONNECTIONS = 50_000

# What a request may grow by between the edge and a service, counted as gRPC counts metadata (name
# + value + 32 bytes per entry, RFC 7541 section 4.1): the transcoder copies the REST URL into
# x-envoy-original-path (and the method into x-envoy-original-method), and the edge adds
# x-request-id, x-forwarded-for/-proto, x-envoy-external-address, x-envoy-expected-rq-timeout-ms,
# te and content-type (~500 bytes).
MAX_REQUEST_HEADERS_COUNT = 100
HEADERS_ADDED_BY_THE_EDGE = 16
HEADER_ENTRY_OVERHEAD = 32
ADDED_HEADER_BYTES = 2048

LIVENESS_BODY = '{"status":"alive"}'
NOT_FOUND_BODY = '{"code":5,"message":"no route for this path"}'

# Cluster names become Envoy stat names and the readiness script splits admin output on
# "::", so keep them to a plain identifier.
_UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# Fully qualified protobuf service name: package segments and the service, dot-separated.
_GRPC_SERVICE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_GRPC_METHOD_PATH = re.compile(r"^/[A-Za-z_][A-Za-z0-9_.]*/[A-Za-z_][A-Za-z0-9_]*$")
_HTTP_METHOD = re.compile(r"^[A-Z]+$")
# A header value must not smuggle a line break or a quote into the config.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9 ._:/@+-]+$")


@dataclass(frozen=True)
class Upstream:
    """One gRPC backend: a cluster named ``name`` serving ``grpc_services``."""

    name: str
    grpc_services: tuple[str, ...]
    host: str
    port: int
    # The ports of a worker group's workers, one each (services/cli/workers.py): the edge balances its
    # requests over them and checks each worker's health; none, the service's port alone.
    worker_ports: tuple[int, ...] = ()

    @property
    def endpoints(self) -> tuple[int, ...]:
        """The ports the edge sends the service's requests to."""
        return self.worker_ports or (self.port,)

    @property
    def discovery_type(self) -> str:
        """STATIC for an IP literal, STRICT_DNS for a host name."""
        return discovery_type(self.host)


def discovery_type(host: str) -> str:
    """Envoy cluster type for `host`: STATIC for an IP literal, STRICT_DNS for a host name."""
    try:
        ipaddress.ip_address(host)
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
class JwtSettings:
    """Who issues the access tokens the edge accepts, and where it fetches the issuer's keys.

    The JWKS comes over plain HTTP from ``jwks_host:jwks_port`` (default: the edge itself, whose
    ``/auth/jwks`` route is the gateway's public GetJwks).
    """

    issuer: str = "http://localhost:8080"
    audiences: tuple[str, ...] = ("teei-api",)
    jwks_host: str | None = None
    jwks_port: int | None = None
    jwks_path: str = "/auth/jwks"
    jwks_cache_s: int = 300
    clock_skew_s: int = 30


# The descriptor keys the edge sends (services/ratelimit/limits.yaml): the token's `company` claim, its
# `sub` claim and the peer address.
RATELIMIT_KEYS: tuple[str, ...] = ("tenant", "client", "remote_address")


@dataclass(frozen=True)
class RateLimitSettings:
    """The global rate-limit service (envoy.service.ratelimit.v3), optionally over mTLS, asked about the
    descriptors of `keys` (a subset of RATELIMIT_KEYS)."""

    host: str
    port: int
    tls: UpstreamTls | None = None
    timeout_ms: int = 100
    keys: tuple[str, ...] = RATELIMIT_KEYS


@dataclass(frozen=True)
class LocalLimit:
    """A token bucket of `requests_per_unit` tokens refilled at `requests_per_unit` per `unit_seconds`."""

    requests_per_unit: int
    unit_seconds: int


@dataclass(frozen=True)
class LocalKeyLimits:
    """The local limits of one descriptor key: every value its own bucket of `default` (None: values
    without an override are not limited), and per-value `overrides`."""

    key: str
    default: LocalLimit | None = None
    overrides: tuple[tuple[str, LocalLimit], ...] = ()


@dataclass(frozen=True)
class LocalRateLimitSettings:
    """Limits the edge enforces itself (envoy.filters.http.local_ratelimit), per Envoy process.
    `max_dynamic_descriptors` bounds the buckets kept for distinct values (least recently used go)."""

    keys: tuple[LocalKeyLimits, ...]
    max_dynamic_descriptors: int = 100_000


@dataclass(frozen=True)
class TracingSettings:
    """The edge's OpenTelemetry tracer: it continues a request's W3C `traceparent` (or starts a trace,
    for `sample_percent` of requests without one) and exports its spans as OTLP/HTTP to host:port."""

    host: str
    port: int
    sample_percent: float = 100.0
    path: str = "/v1/traces"
    service_name: str = "edge"


@dataclass(frozen=True)
class EdgeSettings:
    """Everything the edge config depends on."""

    listen_port: int
    admin_port: int
    descriptor_path: Path
    upstreams: tuple[Upstream, ...]
    health_interval_ms: int = 1000
    listen_address: str = "127.0.0.1"
    # Bulk uploads (the CSV import RPCs) and the transcoder's buffers.
    max_request_body_bytes: int = 64 * MIB
    max_response_body_bytes: int = 64 * MIB
    # Every other request body.
    max_api_request_body_bytes: int = 1 * MIB
    # Request headers including the URL (431 above), and the URL alone (414 above). Their sum, with
    # what the edge adds, must stay below the services' gRPC metadata limit (see upstream_metadata_bytes).
    max_request_headers_kb: int = 32
    max_url_bytes: int = 8 * 1024
    # Services the JSON transcoder serves (they must exist in the descriptor set);
    # None means every grpc service of every upstream.
    transcoded_services: tuple[str, ...] | None = None
    upstream_tls: UpstreamTls | None = None
    jwt: JwtSettings = JwtSettings()
    # None: no global rate limiting.
    ratelimit: RateLimitSettings | None = None
    # None: no local (per-instance) rate limiting.
    local_ratelimit: LocalRateLimitSettings | None = None
    # None: the edge neither starts nor continues traces (it still passes `traceparent` on).
    tracing: TracingSettings | None = None
    allowed_methods: tuple[str, ...] = DEFAULT_ALLOWED_METHODS
    blocked_user_agents: tuple[str, ...] = DEFAULT_BLOCKED_USER_AGENTS
    # Access rules of routed methods outside the descriptor set (gRPC path, rule).
    extra_access_rules: tuple[tuple[str, AccessRule], ...] = ()


def _check_port(what: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ValueError(f"{what} must be in 1..65535, got {port}")


def _validate_upstream(upstream: Upstream) -> None:
    if not _UPSTREAM_NAME.match(upstream.name) or upstream.name in RESERVED_CLUSTERS:
        raise ValueError(f"invalid upstream name {upstream.name!r}")
    if not upstream.host or any(c.isspace() for c in upstream.host):
        raise ValueError(f"upstream {upstream.name!r}: invalid host {upstream.host!r}")
    for port in (upstream.port, *upstream.worker_ports):
        _check_port(f"upstream {upstream.name!r} port", port)
    if not upstream.grpc_services:
        raise ValueError(f"upstream {upstream.name!r} has no grpc_services")
    for service in upstream.grpc_services:
        if not _GRPC_SERVICE.match(service):
            raise ValueError(f"upstream {upstream.name!r}: invalid service {service!r}")


def validate(settings: EdgeSettings) -> None:
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
    _validate_security(settings)


def upstream_metadata_bytes(settings: EdgeSettings) -> int:
    """The most metadata a request the edge accepts can carry when it reaches a service."""
    entries = MAX_REQUEST_HEADERS_COUNT + HEADERS_ADDED_BY_THE_EDGE
    return (
        settings.max_request_headers_kb * 1024
        + settings.max_url_bytes  # again, as x-envoy-original-path
        + ADDED_HEADER_BYTES
        + entries * HEADER_ENTRY_OVERHEAD
    )


def _validate_header_limits(settings: EdgeSettings) -> None:
    if settings.max_request_headers_kb <= 0 or settings.max_url_bytes <= 0:
        raise ValueError("max_request_headers_kb and max_url_bytes must be positive")
    if settings.max_url_bytes > settings.max_request_headers_kb * 1024:
        raise ValueError("max_url_bytes must not exceed max_request_headers_kb (the URL is a header)")
    if upstream_metadata_bytes(settings) > MAX_METADATA_BYTES:
        raise ValueError(
            f"max_request_headers_kb ({settings.max_request_headers_kb}) and max_url_bytes ({settings.max_url_bytes})"
            f" let {upstream_metadata_bytes(settings)} bytes of metadata reach a service, which accepts"
            f" {MAX_METADATA_BYTES}: oversize requests must be refused by the edge"
        )


def _validate_security(settings: EdgeSettings) -> None:
    if min(settings.max_request_body_bytes, settings.max_api_request_body_bytes) <= 0:
        raise ValueError("request body limits must be positive")
    _validate_header_limits(settings)
    if not settings.allowed_methods or not all(_HTTP_METHOD.match(m) for m in settings.allowed_methods):
        raise ValueError(f"invalid allowed_methods {settings.allowed_methods!r}")
    if not all(_PLAIN_VALUE.match(agent) for agent in settings.blocked_user_agents):
        raise ValueError("blocked_user_agents entries must be plain words")
    for path, _ in settings.extra_access_rules:
        if not _GRPC_METHOD_PATH.match(path):
            raise ValueError(f"invalid method path in extra_access_rules: {path!r}")
    _validate_jwt(settings.jwt)
    if settings.ratelimit is not None:
        _check_port("ratelimit port", settings.ratelimit.port)
        if not settings.ratelimit.host or settings.ratelimit.timeout_ms <= 0:
            raise ValueError("ratelimit needs a host and a positive timeout")
    _validate_ratelimit_keys(settings)


def _validate_ratelimit_keys(settings: EdgeSettings) -> None:
    """Each descriptor key is counted in one place: the global service or the edge's own buckets."""
    global_keys = () if settings.ratelimit is None else settings.ratelimit.keys
    local = settings.local_ratelimit
    local_keys = () if local is None else tuple(k.key for k in local.keys)
    for what, keys in (("ratelimit keys", global_keys), ("local_ratelimit keys", local_keys)):
        unknown = sorted(set(keys) - set(RATELIMIT_KEYS))
        if unknown or len(set(keys)) != len(keys):
            raise ValueError(f"{what} must be distinct keys of {list(RATELIMIT_KEYS)}, got {list(keys)}")
    if settings.ratelimit is not None and not global_keys:
        raise ValueError("ratelimit keys must not be empty (leave ratelimit unset instead)")
    both = sorted(set(global_keys) & set(local_keys))
    if both:
        raise ValueError(f"rate-limit keys {both} are both global and local: each key is counted in one place")
    if local is None:
        return
    if local.max_dynamic_descriptors < 1:
        raise ValueError("local_ratelimit max_dynamic_descriptors must be positive")
    for key_limits in local.keys:
        limits = [key_limits.default, *(limit for _, limit in key_limits.overrides)]
        if all(limit is None for limit in limits):
            raise ValueError(f"local_ratelimit key {key_limits.key!r} has no limit")
        if any(limit is not None and (limit.requests_per_unit < 1 or limit.unit_seconds < 1) for limit in limits):
            raise ValueError(f"local_ratelimit key {key_limits.key!r}: limits must be positive")
        if not all(value for value, _ in key_limits.overrides):
            raise ValueError(f"local_ratelimit key {key_limits.key!r}: an override needs a value")


def _validate_jwt(jwt: JwtSettings) -> None:
    if not jwt.issuer or not jwt.audiences or not all(jwt.audiences):
        raise ValueError("jwt needs an issuer and at least one audience")
    if not jwt.jwks_path.startswith("/") or any(c.isspace() for c in jwt.jwks_path):
        raise ValueError(f"invalid jwks_path {jwt.jwks_path!r}")
    if (jwt.jwks_host is None) != (jwt.jwks_port is None):
        raise ValueError("jwks_host and jwks_port go together")
    if jwt.jwks_port is not None:
        _check_port("jwks_port", jwt.jwks_port)
    if jwt.jwks_cache_s <= 0 or jwt.clock_skew_s < 0:
        raise ValueError("jwks_cache_s must be positive and clock_skew_s not negative")
