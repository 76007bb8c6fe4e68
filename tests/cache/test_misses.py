"""Every miss is counted by its cause, every value not stored by its reason, on both backends.

A hit rate alone hides whether misses were avoidable: first sight of a key is not, a TTL
or an eviction may be (a longer TTL, a bigger store), an invalidation is as fine as the
stamps are.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from turbina import MemoryBackend, TurbinaCache
from turbina.cache.backends.base import CacheBackend
from turbina.cache.backends.redis import RedisBackend


def counters(cache: TurbinaCache, context: str = "c") -> dict[str, Any]:
    return cache.stats()["contexts"][context]  # type: ignore[no-any-return]


def _drop_entry(cache: TurbinaCache, key_part: str) -> None:
    """What a store under memory pressure does: the entry goes before its TTL."""
    backend = cache.backend
    if isinstance(backend, RedisBackend):
        for key in backend.client.scan_iter(match=f"{backend.prefix}:*:e:*"):
            backend.client.delete(key)
    else:
        assert isinstance(backend, MemoryBackend)
        with backend._lock:
            for key in list(backend._entries):
                backend._drop(key, cause=_evicted())


def _evicted() -> Any:
    from turbina.cache.backends.base import ReadStatus

    return ReadStatus.EVICTED


def test_misses_by_cause(backend: CacheBackend) -> None:
    cache = TurbinaCache(backend, {"c": 60, "short": 1})
    page = cache.cached("c", depends_on=["t"])(lambda n: [n])
    brief = cache.cached("short", depends_on=[])(lambda n: [n])
    page(1)  # first sight
    page(1)  # hit
    cache.invalidate_tables("t")
    page(1)  # the stamp moved
    page(1)  # hit
    _drop_entry(cache, "c:")
    page(1)  # gone before its TTL
    brief(1)
    time.sleep(1.1)  # let the 1 s TTL pass (a functional wait: the cause is what is checked)
    brief(1)
    c = counters(cache)
    assert (c["hits"], c["miss_first"], c["miss_invalidated"], c["miss_evicted"]) == (2, 1, 1, 1)
    assert c["misses"] == 3 and c["hit_rate"] == 0.4
    assert c["hit_rate_seen"] == 0.5  # the first sight was unavoidable: 2 of 4
    s = counters(cache, "short")
    assert (s["miss_first"], s["miss_expired"]) == (1, 1)


def test_values_not_stored_by_reason() -> None:
    cache = TurbinaCache(MemoryBackend(), {"c": 60}, max_value_bytes=50)
    big = cache.cached("c", depends_on=[])(lambda: "x" * 100)
    pure = cache.cached("c")(lambda: 42)  # recorded dependencies, and no SQL at all
    big()
    pure()
    pure()
    c = counters(cache)
    assert c["not_stored_oversize"] == 1
    assert c["not_stored_unknown_deps"] == 2
    assert c["not_stored"] == 3


@pytest.mark.usefixtures("redis_url")
def test_cli_shows_misses_by_cause(redis_url: str, redis_prefix: str) -> None:
    from flask import Flask

    import turbina
    from turbina.flask.cli.cache import cache_group

    app = Flask(__name__)
    app.config.update(
        TURBINA_CACHE_BACKEND="redis",
        TURBINA_REDIS_URL=redis_url,
        TURBINA_CACHE_PREFIX=redis_prefix,
        TURBINA_CACHE_CONTEXTS={"c": 60},
        TURBINA_EXPLAIN=False,
        TURBINA_STORE="memory",  # `cache stats` reads the store: this app's own
    )
    turbina.Turbina(app)
    page = turbina.cached("c", depends_on=["t"])(lambda n: n)
    with app.app_context():
        page(1)
        page(1)
        turbina.invalidate_tables("t")
        page(1)
    result = app.test_cli_runner().invoke(cache_group, ["stats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = lines[0].split()
    row = dict(
        zip(header, next(line for line in lines if line.startswith("c ")).split(), strict=True)
    )
    assert row["hits"] == "1" and row["misses"] == "2"
    assert row["first"] == "1" and row["invalidated"] == "1"
    assert row["hit_rate"] == "33.33%" and row["seen_hit_rate"] == "50.00%"
    app.extensions["turbina"].cache.close()
