"""Fixtures of the cache tests: both backends, a private redis-server, a private Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from redis_servers import own_redis, proxy, redis_cluster  # noqa: F401 - fixtures
from turbina.cache.backends.base import CacheBackend
from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.backends.redis import RedisBackend


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[CacheBackend]:
    """Each backend in turn; the shared suite runs against both."""
    if request.param == "memory":
        yield MemoryBackend(1024 * 1024)
        return
    prefix = request.getfixturevalue("redis_prefix")
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    store = RedisBackend(client, prefix)
    yield store
    store.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def commandstats(client: Any) -> dict[str, int]:
    """Calls per command from INFO commandstats."""
    info = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}
