"""RLS protobuf ⇄ rate-limit domain values; the only module that imports the generated RLS code."""

from __future__ import annotations

from typing import Any, TypeAlias

# xds-protos ships the generated code without type stubs.
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf import duration_pb2

from services.ratelimit.domain.query import Descriptor, RateLimitQuery
from services.ratelimit.domain.verdicts import DescriptorVerdict, Verdict

__all__ = ["RateLimitRequest", "RateLimitResponse", "query_of", "response_of", "rls_pb2", "rls_pb2_grpc"]

RateLimitRequest: TypeAlias = Any
RateLimitResponse: TypeAlias = Any
_MAX_UINT32 = 2**32 - 1


def query_of(request: RateLimitRequest) -> RateLimitQuery:
    """The domain question of an RLS request; a hits_addend of 0 (unset) counts as 1."""
    default_hits = int(request.hits_addend) or 1
    return RateLimitQuery(
        domain=str(request.domain),
        descriptors=tuple(_descriptor(d, default_hits) for d in request.descriptors),
    )


def _descriptor(descriptor: Any, default_hits: int) -> Descriptor:
    # A descriptor may carry its own hits_addend (a wrapper type): it wins over the request's.
    hits = int(descriptor.hits_addend.value) if descriptor.HasField("hits_addend") else default_hits
    entries = tuple((str(e.key), str(e.value)) for e in descriptor.entries)
    return Descriptor(entries=entries, hits=hits or 1)


def response_of(verdict: Verdict) -> RateLimitResponse:
    """The RLS response: overall OVER_LIMIT when any descriptor is, with a status per descriptor."""
    code = rls_pb2.RateLimitResponse.OVER_LIMIT if verdict.over_limit else rls_pb2.RateLimitResponse.OK
    return rls_pb2.RateLimitResponse(overall_code=code, statuses=[_status(s) for s in verdict.statuses])


def _status(verdict: DescriptorVerdict) -> Any:
    response = rls_pb2.RateLimitResponse
    code = response.OVER_LIMIT if verdict.over_limit else response.OK
    if verdict.limit is None:
        return response.DescriptorStatus(code=code)
    limit = response.RateLimit(
        name=verdict.limit.name,
        requests_per_unit=verdict.limit.requests_per_unit,
        unit=response.RateLimit.Unit.Value(verdict.limit.unit.name),
    )
    reset = duration_pb2.Duration()
    reset.FromNanoseconds(round(verdict.until_reset * 1e9))
    return response.DescriptorStatus(
        code=code,
        current_limit=limit,
        limit_remaining=min(verdict.remaining, _MAX_UINT32),
        duration_until_reset=reset,
    )
