"""Fixtures of the store tests: each backend in turn (memory, a real SQLite file, real Redis),
a private redis-server to stop and start, and the cache tests' 3-master Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from redis_servers import own_redis, redis_cluster  # noqa: F401 - fixtures
from turbina.store.backends.base import StoreBackend
from turbina.store.backends.memory import MemoryStore
from turbina.store.backends.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    """Each backend in turn; the shared suite runs against all three."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        yield SQLiteStore(tmp_path / "store.db")
        return
    import redis

    from turbina.store.backends.redis import RedisStore

    prefix = request.getfixturevalue("redis_prefix")
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    backend = RedisStore(client, prefix)
    yield backend
    backend.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
