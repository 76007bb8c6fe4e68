"""Redis specifics: no KEYS/SCAN, TTL on every key, shared stats, dead Redis, Redis Cluster."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from redis_servers import RedisServer
from turbina.cache.backends.base import ReadStatus
from turbina.cache.backends.redis import RedisBackend
from turbina.cache.region import TurbinaCache

from .conftest import commandstats

CONTEXTS = {"entregas": 60, "embarques": 60}


def _exercise(cache: TurbinaCache) -> list[int]:
    calls: list[int] = []

    @cache.cached("entregas", depends_on=["c_notas"])
    def lista(pagina: int) -> list[int]:
        calls.append(pagina)
        return [pagina]

    for _ in range(3):
        lista(1)
        lista(2)
    cache.invalidate("entregas")
    cache.invalidate_tables("c_notas")
    lista(1)
    cache.stats()
    return calls


def test_seed_bug_no_keys_or_scan_and_every_key_has_a_ttl(
    redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    cache = TurbinaCache(RedisBackend(client, redis_prefix), CONTEXTS)
    before = commandstats(client)
    calls = _exercise(cache)
    after = commandstats(client)
    assert calls == [1, 2, 1]
    for command in ("keys", "scan"):
        assert after.get(command, 0) == before.get(command, 0), command
    # Every key we wrote expires (checked by name: listing keys here is the test's business).
    keys = list(client.scan_iter(match=f"{redis_prefix}*"))
    assert keys
    assert all(client.ttl(key) > 0 or client.pttl(key) > 0 for key in keys)
    client.close()


def test_expired_stamp_never_makes_an_old_entry_fresh(redis_url: str, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisBackend(client, redis_prefix)
    tokens = ["c:ctx", "t:a"]
    assert store.write("ctx:k", "ctx", b"old", tokens, store.read_stamps(tokens), 60)
    client.delete(store.stamp_key("t:a"))  # the stamp expired (or was evicted)
    assert store.read("ctx:k", "ctx", tokens)[0] is ReadStatus.STALE
    store.read_stamps(tokens)  # recreated at a fresh random epoch, not at 0 or 1
    assert store.read("ctx:k", "ctx", tokens)[0] is ReadStatus.STALE
    store.bump(["t:b"])  # a bump of a missing stamp also starts at a random epoch
    assert int(client.get(store.stamp_key("t:b"))) > 1 << 32
    client.close()


def test_stats_are_shared_by_two_caches_on_one_redis(redis_url: str, redis_prefix: str) -> None:
    first = TurbinaCache(RedisBackend(redis.Redis.from_url(redis_url), redis_prefix), CONTEXTS)
    second = TurbinaCache(RedisBackend(redis.Redis.from_url(redis_url), redis_prefix), CONTEXTS)

    def build(cache: TurbinaCache) -> Any:
        @cache.cached("embarques", depends_on=[])
        def painel() -> str:
            return "ok"

        return painel

    build(first)()  # miss, stored
    build(second)()  # hit: the other "process" stored it
    build(second)()
    first.stats()  # each process sends its counts at least once a second, and on stats()
    second.stats()
    for cache in (first, second):
        counters = cache.stats()["contexts"]["embarques"]
        assert (counters["hits"], counters["misses"]) == (2, 1)
    first.close()
    second.close()


def test_dead_redis_fails_open_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(own_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    cache = TurbinaCache(RedisBackend(client, "t"), CONTEXTS, retry_after_s=0.2)
    calls: list[int] = []

    @cache.cached("entregas", depends_on=["c_notas"])
    def lista() -> int:
        calls.append(1)
        return len(calls)

    assert lista() == 1
    assert lista() == 1
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="turbina.cache"):
        assert lista() == 2  # a miss, the function runs, the call succeeds
        assert lista() == 3  # the store is left alone for retry_after_s: not even tried
        assert not cache.invalidate_tables("c_notas")  # the bump fails and is kept
        while time.monotonic() < cache._store_down_until:
            time.sleep(0.02)
        assert lista() == 4  # bypassed: the lost bump is pending (and retried, failing)
    assert len([r for r in caplog.records if "read failed" in r.getMessage()]) == 1  # rate-limited
    stats = cache.stats()
    assert stats["degraded"] and stats["pending_bumps"] == ["t:c_notas"]
    assert stats["contexts"]["entregas"]["bypassed_now"]
    assert stats["contexts"]["entregas"]["errors"] == 1  # one failed read, then no attempts
    assert stats["contexts"]["entregas"]["bypassed"] >= 1
    assert stats["contexts"]["_cache"]["errors"] == 1  # the failed bump

    own_redis.start()  # empty again: the old entry is gone, but a retried bump must succeed
    cache._pending.retry()
    assert cache.stats()["pending_bumps"] == []
    assert not cache.stats()["degraded"]
    while time.monotonic() < cache._store_down_until:
        time.sleep(0.02)
    assert lista() == 5
    assert lista() == 5  # cached again
    counters = cache.stats()["contexts"]["entregas"]
    assert counters["hits"] >= 1 and counters["errors"] == 1  # local counts kept, then sent
    cache.close()


def test_failed_bump_bypasses_until_retry_succeeds(own_redis: RedisServer) -> None:
    """The entry written before a lost bump must not be served when Redis is back."""
    client = redis.Redis.from_url(own_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    cache = TurbinaCache(RedisBackend(client, "t"), CONTEXTS)
    data = {"value": 1}

    @cache.cached("entregas", depends_on=["c_notas"])
    def lista() -> int:
        return data["value"]

    lista()
    assert lista() == 1
    # Simulate a bump lost in a network blip: Redis stays up, but the bump call fails.
    real_bump = cache.backend.bump

    def failing_bump(tokens: Any) -> None:
        raise redis.ConnectionError("blip")

    cache._pending._bump = failing_bump
    data["value"] = 2
    assert not cache.invalidate_tables("c_notas")
    assert lista() == 2  # bypassed, not the stale 1 still stored in Redis
    assert cache.stats()["contexts"]["entregas"]["bypassed"] >= 1
    cache._pending._bump = real_bump
    assert cache._pending.retry()
    assert lista() == 2
    cache.close()


def test_redis_cluster(redis_cluster: list[int]) -> None:
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in redis_cluster])
    prefix = f"tc{uuid.uuid4().hex[:6]}"
    cache = TurbinaCache(RedisBackend(client, prefix), CONTEXTS)
    calls = _exercise(cache)
    assert calls == [1, 2, 1]
    counters = cache.stats()["contexts"]["entregas"]
    assert counters["hits"] == 4 and counters["stale_prevented"] == 1
    assert cache.backend.acquire_lock("entregas:x", "tok", 1000)
    cache.backend.release_lock("entregas:x", "tok")
    cache.close()
