"""Render the static Envoy bootstrap of the edge from typed settings.

The edge is one Envoy listener (HTTP/1.1 and h2c on the same port) in front of the gRPC
services. Its HTTP filter chain strips client-supplied identity headers and sets security
response headers, refuses scanners by User-Agent, turns redirect metadata into real redirects
(``envoy/redirect.lua``), answers the readiness probe (``envoy/readiness.lua``, fed by Envoy's
active grpc.health.v1 checks), limits request bodies, transcodes REST/JSON to gRPC, verifies the
bearer token (jwt_authn), authorises by role (RBAC, from ``edge_policy``), asks the rate-limit
service, and routes ``/<package>.<Service>/`` paths to one cluster per upstream. The template
is ``envoy/envoy.yaml.j2``; this module validates the settings and fills it in.
``envoy --mode validate -c <file>`` accepts the result.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from services.cli import edge_policy, openapi
from services.kit.security import mtls
from services.kit.security.access import AccessRule

ENVOY_DIR = Path(__file__).resolve().parents[2] / "envoy"
TEMPLATE_NAME = "envoy.yaml.j2"
READINESS_LUA_NAME = "readiness.lua"
REDIRECT_LUA_NAME = "redirect.lua"

# Cluster holding Envoy's own admin interface; read by the readiness script.
ADMIN_CLUSTER = "edge_admin"
JWKS_CLUSTER = "edge_jwks"
RATELIMIT_CLUSTER = "edge_ratelimit"
RESERVED_CLUSTERS = frozenset({ADMIN_CLUSTER, JWKS_CLUSTER, RATELIMIT_CLUSTER})
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


@dataclass(frozen=True)
class RateLimitSettings:
    """The global rate-limit service (envoy.service.ratelimit.v3), optionally over mTLS."""

    host: str
    port: int
    tls: UpstreamTls | None = None
    timeout_ms: int = 100


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
    max_request_headers_kb: int = 32
    # Services the JSON transcoder serves (they must exist in the descriptor set);
    # None means every grpc service of every upstream.
    transcoded_services: tuple[str, ...] | None = None
    upstream_tls: UpstreamTls | None = None
    jwt: JwtSettings = JwtSettings()
    # None: no global rate limiting.
    ratelimit: RateLimitSettings | None = None
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
    _validate_security(settings)


def _validate_security(settings: EdgeSettings) -> None:
    if min(settings.max_request_body_bytes, settings.max_api_request_body_bytes) <= 0:
        raise ValueError("request body limits must be positive")
    if not 0 < settings.max_request_headers_kb <= 8192:
        raise ValueError("max_request_headers_kb must be in 1..8192")
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
        method_routes=method_routes(settings.descriptor_path),
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
        **_security_context(settings, all_services),
    )


def _security_context(settings: EdgeSettings, services: tuple[str, ...]) -> dict[str, Any]:
    """Template values of authentication, authorisation, WAF and rate limiting."""
    policies = _method_policies(settings, services)
    prefixes = edge_policy.service_prefixes(policies, services)
    upstream_of = {service: u.name for u in settings.upstreams for service in u.grpc_services}
    bulk = [p for p in policies if p.bulk_upload]
    jwks_host, jwks_port = _jwks_endpoint(settings)
    return {
        "stripped_header_prefixes": STRIPPED_REQUEST_HEADER_PREFIXES,
        "stripped_response_headers": STRIPPED_RESPONSE_HEADERS,
        "security_headers": SECURITY_RESPONSE_HEADERS,
        "redirect_lua": (ENVOY_DIR / REDIRECT_LUA_NAME).read_text(encoding="utf-8"),
        "user_agent_block": edge_policy.user_agent_block_config(settings.blocked_user_agents),
        "allowed_methods_regex": "^(" + "|".join(settings.allowed_methods) + ")$",
        "allow_header": ", ".join(settings.allowed_methods),
        "max_api_request_body_bytes": settings.max_api_request_body_bytes,
        "max_request_headers_kb": settings.max_request_headers_kb,
        "bulk_grpc_routes": [(p.path, upstream_of[p.service_prefix.strip("/")]) for p in bulk],
        "bulk_rest_patterns": sorted({pattern for p in bulk for pattern in p.rest_patterns}),
        "jwt_authn": _jwt_authn_config(settings, edge_policy.jwt_rules(policies, prefixes)),
        "jwks_cluster": {"name": JWKS_CLUSTER, "host": jwks_host, "port": jwks_port, "type": discovery_type(jwks_host)},
        "rbac": edge_policy.rbac_config(policies, prefixes),
        "ratelimit": settings.ratelimit,
        "ratelimit_cluster": RATELIMIT_CLUSTER,
        "ratelimit_type": "" if settings.ratelimit is None else discovery_type(settings.ratelimit.host),
        "ratelimit_spiffe_id": mtls.spiffe_id(RATELIMIT_WORKLOAD),
        "ratelimit_actions": edge_policy.ratelimit_actions(),
        "jwt_filter": edge_policy.JWT_FILTER,
        "jwt_failure_key": edge_policy.FAILURE_KEY,
    }


def _method_policies(settings: EdgeSettings, services: tuple[str, ...]) -> tuple[edge_policy.MethodPolicy, ...]:
    extra = dict(settings.extra_access_rules)
    if not settings.descriptor_path.exists():
        return tuple(edge_policy.MethodPolicy(path, rule) for path, rule in sorted(extra.items()))
    return edge_policy.load_method_policies(settings.descriptor_path, services, extra)


def _jwks_endpoint(settings: EdgeSettings) -> tuple[str, int]:
    """Where the JWKS is fetched: the configured server, else the edge's own listener."""
    jwt = settings.jwt
    if jwt.jwks_host is not None and jwt.jwks_port is not None:
        return jwt.jwks_host, jwt.jwks_port
    address = ipaddress.ip_address(settings.listen_address)
    if address.is_unspecified:
        return ("::1" if address.version == 6 else "127.0.0.1"), settings.listen_port
    return settings.listen_address, settings.listen_port


def _jwt_authn_config(settings: EdgeSettings, rules: list[dict[str, Any]]) -> dict[str, Any]:
    jwt = settings.jwt
    host, port = _jwks_endpoint(settings)
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    provider = {
        "issuer": jwt.issuer,
        "audiences": list(jwt.audiences),
        "require_expiration": True,
        "clock_skew_seconds": jwt.clock_skew_s,
        # Only the Authorization header: a token in a URL ends up in logs.
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
        # The services validate the token again (defence in depth); the payload is never a header.
        "forward": True,
        "payload_in_metadata": edge_policy.PAYLOAD_KEY,
        "failed_status_in_metadata": edge_policy.FAILURE_KEY,
        "remote_jwks": {
            "http_uri": {"uri": f"http://{authority}{jwt.jwks_path}", "cluster": JWKS_CLUSTER, "timeout": "2s"},
            "cache_duration": f"{jwt.jwks_cache_s}s",
            # Fetched at start and refreshed in the background; the edge's own /auth/jwks is not up
            # before its listener, so do not hold the listener for it and retry a failed fetch soon.
            "async_fetch": {"fast_listener": True, "failed_refetch_duration": "1s"},
            "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "0.2s", "max_interval": "2s"}},
        },
    }
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {edge_policy.PROVIDER: provider},
        "rules": rules,
    }


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


@dataclass(frozen=True)
class MethodRoute:
    """The REST paths of one binding template and the only methods they answer."""

    template: str
    regex: str
    methods: tuple[str, ...]

    @property
    def allow(self) -> str:
        """The Allow header of a 405 on these paths."""
        return ", ".join(self.methods)

    @property
    def methods_regex(self) -> str:
        """RE2 matching exactly these methods."""
        return "^(" + "|".join(self.methods) + ")$"


_TEMPLATE_VARIABLE = re.compile(r"\{([^}]+)\}")
_UUID_SEGMENT = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def method_routes(descriptor_path: Path) -> list[MethodRoute]:
    """One route per REST template (templates with the same paths merged), UUID-keyed ones first so
    `/imports/{batch_id}` (GET) and `/imports/{kind}` (POST) each name their own methods."""
    if not descriptor_path.exists():
        return []
    merged: dict[str, MethodRoute] = {}
    for template, methods in openapi.rest_methods(descriptor_path).items():
        regex = _template_regex(template)
        known = merged.get(regex)
        union = tuple(sorted({*methods, *(known.methods if known else ())}))
        merged[regex] = MethodRoute(known.template if known else template, regex, union)
    return sorted(merged.values(), key=lambda r: (_UUID_SEGMENT not in r.regex, r.template))


def _template_regex(template: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _TEMPLATE_VARIABLE.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        parts.append(_UUID_SEGMENT if match.group(1) in openapi.UUID_FIELDS else "[^/:]+")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts)


# Unversioned routes were deprecated on 2026-12-01 (RFC 9745 structured date) and stop on the sunset.
LEGACY_DEPRECATION = "@1796083200"
LEGACY_SUNSET = "Sat, 01 Jan 2028 00:00:00 GMT"


def _legacy_prefixes(descriptor_path: Path) -> list[str]:
    """First path segments of every /v1 REST binding: their unversioned forms redirect to /v1."""
    if not descriptor_path.exists():
        return []
    return sorted({path.split("/")[2] for path in openapi.rest_paths(descriptor_path) if path.startswith("/v1/")})
