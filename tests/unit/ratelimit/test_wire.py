"""RLS proto ⇄ domain: hits_addend rules, and responses that carry what Envoy needs for RateLimit headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.kit import config as config_module
from services.ratelimit import bootstrap
from services.ratelimit.domain.limits import Limit, Unit
from services.ratelimit.domain.verdicts import DescriptorVerdict, Verdict
from services.ratelimit.repository import MemoryCounterStore, RedisCounterStore, describe_redis_url
from services.ratelimit.settings import DEFAULT_LIMITS, RateLimitConfig
from services.ratelimit.wire import query_of, response_of, rls_pb2

Response = rls_pb2.RateLimitResponse


def request(*descriptors: dict[str, str], hits: int = 0, domain: str = "teei") -> Any:
    message = rls_pb2.RateLimitRequest(domain=domain, hits_addend=hits)
    for entries in descriptors:
        descriptor = message.descriptors.add()
        for key, value in entries.items():
            descriptor.entries.add(key=key, value=value)
    return message


@pytest.mark.parametrize(("hits", "counted"), [(0, 1), (1, 1), (25, 25)])
def test_hits_addend_zero_counts_as_one(hits: int, counted: int) -> None:
    query = query_of(request({"tenant": "acme"}, {"client": "c"}, hits=hits))
    assert query.domain == "teei"
    assert [d.hits for d in query.descriptors] == [counted, counted]
    assert query.descriptors[0].entries == (("tenant", "acme"),)


def test_a_descriptors_own_hits_addend_wins_over_the_requests() -> None:
    message = request({"tenant": "acme"}, {"client": "c"}, hits=5)
    message.descriptors[0].hits_addend.value = 2
    assert [d.hits for d in query_of(message).descriptors] == [2, 5]


def test_entries_keep_their_order() -> None:
    query = query_of(request({"tenant": "acme", "client": "c"}))
    assert query.descriptors[0].entries == (("tenant", "acme"), ("client", "c"))


def test_response_carries_limit_remaining_and_reset_per_descriptor() -> None:
    minute = Limit(100, Unit.MINUTE, "tenant")
    second = Limit(5, Unit.SECOND, "remote_address")
    verdict = Verdict(
        (
            DescriptorVerdict(minute, count=40, until_reset=12.5),
            DescriptorVerdict(second, count=6, until_reset=0.25),
            DescriptorVerdict(),
        )
    )
    response = response_of(verdict)
    assert response.overall_code == Response.OVER_LIMIT
    tenant, address, other = response.statuses
    assert tenant.code == Response.OK
    assert (tenant.current_limit.requests_per_unit, tenant.current_limit.unit) == (100, Response.RateLimit.MINUTE)
    assert tenant.current_limit.name == "tenant"
    assert tenant.limit_remaining == 60
    assert tenant.duration_until_reset.ToNanoseconds() == 12_500_000_000
    assert (address.code, address.limit_remaining, address.current_limit.unit) == (
        Response.OVER_LIMIT,
        0,
        Response.RateLimit.SECOND,
    )
    assert address.duration_until_reset.ToMilliseconds() == 250
    assert other.code == Response.OK
    assert not other.HasField("current_limit")


def test_response_is_ok_when_no_descriptor_is_over() -> None:
    verdict = Verdict((DescriptorVerdict(Limit(1, Unit.HOUR, "tenant"), count=1, until_reset=3600.0),))
    response = response_of(verdict)
    assert response.overall_code == Response.OK
    assert response.statuses[0].current_limit.unit == Response.RateLimit.HOUR
    assert response.statuses[0].limit_remaining == 0


def test_settings_read_redis_url_from_a_file_and_default_to_the_shipped_limits(tmp_path: Path) -> None:
    secret = tmp_path / "redis-url"
    secret.write_text("redis://:hunter2@cache.internal:6380/2\n")
    settings = config_module.load(RateLimitConfig, {"REDIS_URL_FILE": str(secret)})
    assert settings.redis_url == "redis://:hunter2@cache.internal:6380/2"
    assert settings.limits_path == DEFAULT_LIMITS
    assert "hunter2" not in str(config_module.describe(settings))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@cache.internal:6380/2", "redis://cache.internal:6380/2"),
        ("rediss://user:hunter2@cache.internal/0", "rediss://cache.internal/0"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_redis_urls_are_described_without_credentials(url: str, shown: str) -> None:
    assert describe_redis_url(url) == shown


async def test_store_is_redis_with_a_url_and_in_memory_without() -> None:
    assert isinstance(bootstrap.open_store(RateLimitConfig()), MemoryCounterStore)
    store = bootstrap.open_store(RateLimitConfig(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(store, RedisCounterStore)
    await store.close()
