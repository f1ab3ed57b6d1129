"""Where the edge counts each rate-limit descriptor key, from the one limits file.

`services/ratelimit/limits.yaml` gives the limit of every key. The per-instance keys (`client`,
`remote_address`) are Envoy's own token buckets (`envoy.filters.http.local_ratelimit`): one bucket
per value, no call out of the edge. The `tenant` quota is shared by every edge replica, so with several
edges (Kubernetes, or any mesh whose rate-limit service counts in Redis) it stays with the global
rate-limit service; with one edge and the service counting in its own process (`teei up`), that edge is
the whole mesh and a local bucket counts the tenant's every request too (`tenant_scope`).

A bucket holds `requests_per_unit` tokens and gains them back at `requests_per_unit` per `unit`
(Envoy refills continuously, not all at once at a window's end): a burst of at most the limit, and
over any span of one unit at most twice the limit, the bound the service's fixed windows also have at
a window boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.cli import edge_policy
from services.cli.edge_settings import RATELIMIT_KEYS, LocalKeyLimits, LocalLimit, LocalRateLimitSettings
from services.ratelimit.domain.limits import Limit, Limits
from services.ratelimit.settings import load_limits

Json = dict[str, Any]

DOMAIN = "teei"  # the RLS domain of the edge's global filter and of limits.yaml
LOCAL_FILTER = "envoy.filters.http.local_ratelimit"
GLOBAL_STAGE = 0
LOCAL_STAGE = 1
# Keys whose count is right per Envoy process whatever the number of edges: a client or an address
# reaching two edges gets the limit at each (the load balancer spreads them).
PER_INSTANCE_KEYS: tuple[str, ...] = ("client", "remote_address")
TENANT_SCOPE_SETTING = "TEEI_EDGE_TENANT_LIMIT"
TENANT_SCOPES = ("auto", "global", "local")


def tenant_scope(environ: Mapping[str, str], *, shared_counters: bool) -> str:
    """Where the tenant quota is counted: `global` (the rate-limit service) or `local` (the edge).

    TEEI_EDGE_TENANT_LIMIT=global|local decides; `auto` (the default) follows the rate-limit service:
    with REDIS_URL its counters are shared by every replica and edge, so the quota stays there; without,
    it counts in its own process, exact for one edge only, which is what a local bucket of that one
    edge counts too, without a call per request."""
    scope = environ.get(TENANT_SCOPE_SETTING, "auto").strip().lower() or "auto"
    if scope not in TENANT_SCOPES:
        raise ValueError(f"{TENANT_SCOPE_SETTING} must be one of {', '.join(TENANT_SCOPES)}, got {scope!r}")
    if scope == "auto":
        return "global" if shared_counters else "local"
    return scope


def split_keys(scope: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(local keys, global keys) for a tenant scope."""
    local = PER_INSTANCE_KEYS + (("tenant",) if scope == "local" else ())
    return local, tuple(key for key in RATELIMIT_KEYS if key not in local)


def _local_limit(limit: Limit) -> LocalLimit:
    return LocalLimit(requests_per_unit=limit.requests_per_unit, unit_seconds=limit.unit.seconds)


def local_settings(
    limits: Limits, keys: tuple[str, ...], max_dynamic_descriptors: int | None = None
) -> LocalRateLimitSettings | None:
    """The local buckets of `keys` the limits configure (None when none does). Limits of another
    domain than the edge's are not the edge's, as the service does not count them either."""
    if limits.domain != DOMAIN:
        return None
    configured = []
    for key in keys:
        rules = limits.keys.get(key)
        if rules is None:
            continue
        default = None if rules.default is None else _local_limit(rules.default)
        overrides = tuple((value, _local_limit(limit)) for value, limit in sorted(rules.overrides.items()))
        configured.append(LocalKeyLimits(key=key, default=default, overrides=overrides))
    if not configured:
        return None
    if max_dynamic_descriptors is None:
        return LocalRateLimitSettings(keys=tuple(configured))
    return LocalRateLimitSettings(keys=tuple(configured), max_dynamic_descriptors=max_dynamic_descriptors)


def from_file(path: Path, scope: str) -> tuple[LocalRateLimitSettings | None, tuple[str, ...]]:
    """The edge's local buckets and the keys it asks the global service about, from the limits file."""
    local_keys, global_keys = split_keys(scope)
    return local_settings(load_limits(path), local_keys), global_keys


def _bucket(limit: LocalLimit) -> Json:
    return {
        "max_tokens": limit.requests_per_unit,
        "tokens_per_fill": limit.requests_per_unit,
        "fill_interval": f"{limit.unit_seconds}s",
    }


def _descriptors(settings: LocalRateLimitSettings) -> list[Json]:
    """Per-value overrides first, then the key's default with an empty (wildcard) value: Envoy keeps
    one bucket per distinct value it sees."""
    descriptors: list[Json] = []
    for key_limits in settings.keys:
        for value, limit in key_limits.overrides:
            descriptors.append({"entries": [{"key": key_limits.key, "value": value}], "token_bucket": _bucket(limit)})
        if key_limits.default is not None:
            entry = {"key": key_limits.key, "value": ""}
            descriptors.append({"entries": [entry], "token_bucket": _bucket(key_limits.default)})
    return descriptors


def _always(runtime_key: str) -> Json:
    return {"runtime_key": runtime_key, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}


# The filter's own bucket is for requests no descriptor matches: never limited.
_UNLIMITED = {"max_tokens": 2**32 - 1, "tokens_per_fill": 2**32 - 1, "fill_interval": "1s"}


def local_filter_config(settings: LocalRateLimitSettings) -> Json:
    """The typed_config of the local rate-limit filter. It reads the route's `rate_limits` of stage
    LOCAL_STAGE; a refusal is the global filter's: 429 (RESOURCE_EXHAUSTED over gRPC) with the
    draft-03 `x-ratelimit-*` headers."""
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "stat_prefix": "edge_local_ratelimit",
        "stage": LOCAL_STAGE,
        "token_bucket": _UNLIMITED,
        "filter_enabled": _always("edge.local_ratelimit.enabled"),
        "filter_enforced": _always("edge.local_ratelimit.enforced"),
        "descriptors": _descriptors(settings),
        "max_dynamic_descriptors": settings.max_dynamic_descriptors,
        "always_consume_default_token_bucket": False,
        "local_rate_limit_per_downstream_connection": False,
        "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
        "rate_limited_as_resource_exhausted": True,
    }


def route_rate_limits(global_keys: tuple[str, ...], settings: LocalRateLimitSettings | None) -> list[Json]:
    """A routed request's descriptors: the global keys for the global filter, the local ones for the
    local filter."""
    local_keys = () if settings is None else tuple(k.key for k in settings.keys)
    return edge_policy.ratelimit_actions(global_keys) + edge_policy.ratelimit_actions(local_keys, LOCAL_STAGE)
