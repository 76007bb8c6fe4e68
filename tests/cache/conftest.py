"""Fixtures of the cache tests: both backends, a private redis-server, a private Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_servers import RedisServer, TcpProxy, binaries_missing, free_port, redis_cluster_nodes
from turbina.cache.backends.base import CacheBackend
from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.backends.redis import RedisBackend


@pytest.fixture
def own_redis(tmp_path: Path, service_missing: Callable[[str], None]) -> Iterator[RedisServer]:
    """A private redis-server this test may stop and start."""
    reason = binaries_missing()
    if reason:
        service_missing(reason)
    server = RedisServer(tmp_path, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(service_missing: Callable[[str], None]) -> Iterator[list[int]]:
    """A private 3-master Redis Cluster on loopback ports; yields the ports."""
    reason = binaries_missing()
    if reason:
        service_missing(reason)
    with redis_cluster_nodes() as ports:
        yield ports


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


@pytest.fixture
def proxy(own_redis: RedisServer) -> Iterator[TcpProxy]:
    """A proxy in front of the private redis-server."""
    tcp = TcpProxy(own_redis.port)
    yield tcp
    tcp.close()
