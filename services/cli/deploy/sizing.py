"""Resource requests and limits per kind of resource, from figures measured on a running mesh.

Measured with `teei up` on a 2-core machine shared with other work, 8 clients back to back for 30 s through
the edge (half profile creates, half reads, as the soak's burst): 119.8 ok requests/s. CPU is from
/proc/<pid>/stat over the burst, RSS from /proc/<pid>/status at its end (reports/soak.md agrees: 115-122 MiB
per Python service, 82 MiB Envoy, 20 MiB NATS). docs/deploy/kubernetes.md turns them into the capacity plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.cli.spec import Resource


@dataclass(frozen=True)
class Measured:
    """One process under the burst: cores busy, resident memory, and the requests/s it carried."""

    cores: float
    rss_mib: float
    requests_per_second: float


# The busiest process of each kind under the burst (profile for `grpc`: the soak's traffic is profile calls).
MEASURED = {
    "grpc": Measured(cores=0.429, rss_mib=125.3, requests_per_second=119.8),
    "ratelimit": Measured(cores=0.115, rss_mib=114.9, requests_per_second=119.8),
    "envoy": Measured(cores=0.125, rss_mib=81.9, requests_per_second=119.8),
    "nats": Measured(cores=0.003, rss_mib=20.1, requests_per_second=59.9),
}

# Requests hold what a replica needs at the HPA's target; limits bound a leak or a runaway loop. Memory: the
# measured RSS plus headroom for a burst's buffers, limit twice the request. CPU: a Python service runs one
# event loop (about one core at most); Envoy's workers and NATS may use more.
_REQUESTS = {
    "grpc": {"cpu": "300m", "memory": "192Mi"},
    "ratelimit": {"cpu": "100m", "memory": "160Mi"},
    "envoy": {"cpu": "200m", "memory": "128Mi"},
    "nats": {"cpu": "100m", "memory": "128Mi"},
}
_LIMITS = {
    "grpc": {"cpu": "1", "memory": "384Mi"},
    "ratelimit": {"cpu": "500m", "memory": "320Mi"},
    "envoy": {"cpu": "2", "memory": "256Mi"},
    "nats": {"cpu": "2", "memory": "1Gi"},
}
# The HPA's CPU target (percent of the request) and replica bounds in production.
HPA_CPU_UTILIZATION = 100
HPA_MIN_REPLICAS = 2
# Average per-pod p99 RPC latency the autoscaler aims for: half the 500 ms objective of the alert rules
# (observability/prometheus/rules.yml), so replicas are added well before the objective is missed.
HPA_P99_LATENCY_TARGET = "250m"
HPA_MAX_REPLICAS = {"grpc": 20, "ratelimit": 6, "envoy": 10}


def resources(resource: Resource) -> dict[str, Any]:
    """The container's `resources` for `resource`'s kind."""
    return {"requests": dict(_REQUESTS[resource.kind]), "limits": dict(_LIMITS[resource.kind])}


def requests_per_core(kind: str) -> float:
    """Requests a second one core of this kind carried in the measurement."""
    figure = MEASURED[kind]
    return figure.requests_per_second / figure.cores
