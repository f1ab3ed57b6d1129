"""Render the static Envoy bootstrap of the edge from typed settings.

The edge is one Envoy listener (HTTP/1.1 and h2c on the same port) in front of the gRPC
services. Its HTTP filter chain strips client-supplied identity headers and sets security
response headers, refuses scanners by User-Agent, turns redirect metadata into real redirects
(``envoy/redirect.lua``), answers the readiness probe (``envoy/readiness.lua``, fed by Envoy's
active grpc.health.v1 checks), limits URLs and request bodies, transcodes REST/JSON to gRPC,
verifies the bearer token (jwt_authn), authorises by role (RBAC, from ``edge_policy``), enforces the
per-instance rate limits in its own token buckets and asks the rate-limit service about the shared ones
(``edge_ratelimit``), refuses unknown JSON body fields (``envoy/body_*.lua``, from ``edge_bodies``),
and routes ``/<package>.<Service>/`` paths to one cluster per upstream. The template
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

from services.cli import edge_bodies, edge_policy, edge_ratelimit, openapi
from services.cli.edge_settings import (
    BODY_CAPTURE_LUA_NAME,
    BODY_FIELDS_LUA_NAME,
    ENVOY_DIR,
    HEALTH_CHECK_TIMEOUT_MS,
    JWKS_CLUSTER,
    LIVENESS_BODY,
    MAX_DOWNSTREAM_CONNECTIONS,
    MAX_REQUEST_HEADERS_COUNT,
    NOT_FOUND_BODY,
    RATELIMIT_CLUSTER,
    RATELIMIT_HEADERS_LUA_NAME,
    RATELIMIT_KEYS,
    RATELIMIT_WORKLOAD,
    READINESS_LUA_NAME,
    REDIRECT_LUA_NAME,
    ROUTE_TIMEOUT,
    SECURITY_RESPONSE_HEADERS,
    STRIPPED_REQUEST_HEADER_PREFIXES,
    STRIPPED_REQUEST_HEADERS,
    STRIPPED_RESPONSE_HEADERS,
    TEMPLATE_NAME,
    URL_LIMIT_LUA_NAME,
    EdgeSettings,
    JwtSettings,
    LocalKeyLimits,
    LocalLimit,
    LocalRateLimitSettings,
    RateLimitSettings,
    TracingSettings,
    Upstream,
    UpstreamTls,
    discovery_type,
    validate,
)
from services.kit.security import mtls

# The settings types are part of this module's interface: callers build them to render a config.
__all__ = [
    "RATELIMIT_KEYS",
    "EdgeSettings",
    "JwtSettings",
    "LocalKeyLimits",
    "LocalLimit",
    "LocalRateLimitSettings",
    "MethodRoute",
    "RateLimitSettings",
    "TracingSettings",
    "Upstream",
    "UpstreamTls",
    "method_routes",
    "render_envoy_config",
    "write_envoy_config",
]


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
    validate(settings)
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
        readiness_lua=_lua(READINESS_LUA_NAME),
        liveness_body=LIVENESS_BODY,
        readiness_fallback_body=readiness_fallback,
        not_found_body=NOT_FOUND_BODY,
        upstream_tls=settings.upstream_tls,
        spiffe_prefix=mtls.spiffe_id(""),
        tracing=settings.tracing,
        **_security_context(settings, all_services),
        **_input_context(settings, transcoded),
    )


def _lua(name: str, prelude: str = "") -> str:
    """A script of envoy/, after `prelude` (the generated values it reads)."""
    return prelude + (ENVOY_DIR / name).read_text(encoding="utf-8")


# The text of a 400 for a path the edge will not normalise (Envoy gives none of its own).
PATH_REFUSED_MESSAGE = (
    "invalid request path: encoded slashes (%2F), backslashes (%5C), NUL (%00) and paths that cannot be"
    " normalised are refused"
)


def _input_context(settings: EdgeSettings, transcoded: tuple[str, ...]) -> dict[str, Any]:
    """Template values of the request limits and the JSON body check."""
    schemas = edge_bodies.load_body_schemas(settings.descriptor_path, transcoded)
    return {
        "max_url_bytes": settings.max_url_bytes,
        "max_request_headers_count": MAX_REQUEST_HEADERS_COUNT,
        "path_refused_message": PATH_REFUSED_MESSAGE,
        "url_limit_lua": _lua(URL_LIMIT_LUA_NAME, f"local MAX_URL_BYTES = {settings.max_url_bytes}\n"),
        "body_capture_lua": _lua(BODY_CAPTURE_LUA_NAME),
        "body_fields_lua": _lua(BODY_FIELDS_LUA_NAME, edge_bodies.lua_prelude(schemas)),
    }


def _security_context(settings: EdgeSettings, services: tuple[str, ...]) -> dict[str, Any]:
    """Template values of authentication, authorisation, WAF and rate limiting."""
    policies = _method_policies(settings, services)
    prefixes = edge_policy.service_prefixes(policies, services)
    upstream_of = {service: u.name for u in settings.upstreams for service in u.grpc_services}
    bulk = [p for p in policies if p.bulk_upload]
    jwks_host, jwks_port = _jwks_endpoint(settings)
    global_keys = () if settings.ratelimit is None else settings.ratelimit.keys
    return {
        "stripped_header_prefixes": STRIPPED_REQUEST_HEADER_PREFIXES,
        "stripped_response_headers": STRIPPED_RESPONSE_HEADERS,
        "security_headers": SECURITY_RESPONSE_HEADERS,
        "redirect_lua": _lua(REDIRECT_LUA_NAME),
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
        "ratelimit_actions": edge_ratelimit.route_rate_limits(global_keys, settings.local_ratelimit),
        "local_ratelimit": (
            None if settings.local_ratelimit is None else edge_ratelimit.local_filter_config(settings.local_ratelimit)
        ),
        "local_ratelimit_filter": edge_ratelimit.LOCAL_FILTER,
        "ratelimit_headers_lua": _lua(RATELIMIT_HEADERS_LUA_NAME),
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
