"""The cache a benchmark server runs with: a per-run Redis prefix, its stats, its cleanup.

The ``cached`` mode must be fresh across gunicorn workers, so the server uses the shared
Redis backend (``TURBINA_CACHE_BACKEND=redis``) under a prefix unique to the run; after the
run the harness reads the per-context hit counters through Turbina's stats API and deletes
the run's keys (``SCAN`` over the prefix: harness cleanup, never on the library's path).

Without Redis the run falls back to the per-process memory backend. Its stamps live in one
process, so a write in one worker would not invalidate another worker's entries: the run
is then forced to one worker, and the hit rate is not readable from outside the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fretes.access.cached import CONTEXT_NAMES

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# The contexts of the cached form's table, in report order.
CONTEXTS = CONTEXT_NAMES
_CLEANUP_BATCH = 500


@dataclass
class RunCache:
    """How the server's cache is set up for one run."""

    backend: str  # "redis" or "memory"
    prefix: str
    redis_url: str | None = None
    warning: str | None = None
    workers: int | None = None  # forced worker count, when the backend needs one
    env: dict[str, str] = field(default_factory=dict)

    def stats(self) -> dict[str, dict[str, Any]] | None:
        """Shared per-context counters plus ``hit_rate``; None without Redis or on error."""
        if self.backend != "redis" or self.redis_url is None:
            return None
        import redis

        from turbina import RedisBackend

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        try:
            raw = RedisBackend(client, self.prefix).read_stats(list(CONTEXTS))
        except Exception:
            return None
        finally:
            client.close()
        return {name: with_hit_rate(raw.get(name, {})) for name in CONTEXTS}

    def cleanup(self) -> int:
        """Delete every key of the run's prefix; the number deleted."""
        if self.backend != "redis" or self.redis_url is None:
            return 0
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        deleted = 0
        try:
            batch: list[Any] = []
            for key in client.scan_iter(match=f"{self.prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= _CLEANUP_BATCH:
                    deleted += int(client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(client.delete(*batch))
        finally:
            client.close()
        return deleted


def with_hit_rate(counters: dict[str, int]) -> dict[str, Any]:
    """``counters`` plus ``lookups`` and ``hit_rate``: hits / (hits + misses), the definition
    of ``TurbinaCache.stats()``. ``misses`` counts every cause (an invalidated entry is a
    miss already, so ``stale_prevented`` is not added again)."""
    out: dict[str, Any] = dict(counters)
    lookups = out.get("hits", 0) + out.get("misses", 0)
    out["lookups"] = lookups
    out["hit_rate"] = round(out.get("hits", 0) / lookups, 4) if lookups else None
    return out


def redis_reachable(url: str) -> str | None:
    """None when Redis answers PING at ``url``, else why not."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


@contextmanager
def run_cache(
    name: str, modes: Sequence[str], redis_url: str = DEFAULT_REDIS_URL
) -> Iterator[RunCache]:
    """The cache setup of one run; the run's Redis keys are deleted on exit."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
    prefix = f"turbina-bench:{safe}:{uuid.uuid4().hex[:8]}"
    problem = redis_reachable(redis_url)
    if problem is None:
        cache = RunCache("redis", prefix, redis_url)
        cache.env = {
            "TURBINA_CACHE_BACKEND": "redis",
            "TURBINA_REDIS_URL": redis_url,
            "TURBINA_CACHE_PREFIX": prefix,
        }
    else:
        cache = RunCache("memory", prefix)
        cache.env = {"TURBINA_CACHE_BACKEND": "memory", "TURBINA_CACHE_PREFIX": prefix}
        cache.warning = (
            f"Redis not reachable at {redis_url} ({problem}): the cache runs on the per-process "
            "memory backend"
        )
        if "cached" in modes:
            cache.workers = 1
            cache.warning += (
                ", which is not fresh across gunicorn workers, so this run uses 1 worker; "
                "hit rates are not readable from outside the server"
            )
    try:
        yield cache
    finally:
        cache.cleanup()
