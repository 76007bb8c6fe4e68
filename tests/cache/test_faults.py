"""Faults of the store, with real redis-servers the tests start, cut and restart.

- a writer cut off from Redis (a loopback proxy drops its connections; Redis stays up for
  everyone else): its bump is retried from the background, not on its next call, and the
  readers are fresh again once it lands; with the writer gone for good, the staleness ends
  with the entry's TTL, capped by ``max_stale_s``;
- Redis restarted from its AOF after an acknowledged bump was lost: old entries and old
  stamps come back together, and must not look fresh (the generation changes with run_id);
- shared counters reach the store from an idle process and from one that exits.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from redis_servers import RedisServer, TcpProxy, free_port
from turbina import RedisBackend, TurbinaCache

from .models import make_db

CONTEXTS = {"faturamento": 60}


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``check`` until it holds (a functional wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[sa.Engine]:
    engine, _ = make_db(sqlite_url)
    yield engine
    engine.dispose()


def soma_of(cache: TurbinaCache, engine: sa.Engine) -> Any:
    @cache.cached("faturamento", depends_on=["c_notas"])
    def soma(cliente_id: int) -> str:
        with engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT coalesce(sum(valor), 0) FROM c_notas WHERE cliente_id = :c"),
                {"c": cliente_id},
            ).scalar_one()
        return str(Decimal(value).quantize(Decimal("0.01")))

    return soma


def test_a_bump_lost_to_a_cut_is_retried_in_the_background(
    own_redis: RedisServer, proxy: TcpProxy, engine: sa.Engine
) -> None:
    writer = TurbinaCache(RedisBackend(client(proxy.url), "p"), CONTEXTS, retry_after_s=0.1)
    writer.track_session_writes(engine)
    reader = TurbinaCache(RedisBackend(client(own_redis.url), "p"), CONTEXTS)
    read = soma_of(reader, engine)  # the reader does not track the engine: another process
    assert [read(1), read(1)] == ["15.75", "15.75"]

    proxy.cut()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
    assert writer.stats()["pending_bumps"] == ["t:c_notas"]
    assert soma_of(writer, engine)(1) == "2.00"  # the writer itself bypasses: fresh
    assert read(1) == "15.75"  # the window no mechanism can close: the writer is cut off

    proxy.heal()  # from here on the writer makes no call at all
    assert eventually(lambda: read(1) == "2.00")
    assert writer._pending.retried >= 1
    writer.close()
    reader.close()


def test_staleness_after_a_writer_lost_for_good_ends_with_the_capped_ttl(
    own_redis: RedisServer, proxy: TcpProxy, engine: sa.Engine
) -> None:
    writer = TurbinaCache(RedisBackend(client(proxy.url), "p"), CONTEXTS)
    writer.track_session_writes(engine)
    reader = TurbinaCache(
        RedisBackend(client(own_redis.url), "p"), {"faturamento": 3600}, max_stale_s=1
    )
    read = soma_of(reader, engine)
    assert read(1) == read(1) == "15.75"
    entry_ttls = [
        reader.backend.client.ttl(key)  # type: ignore[attr-defined]
        for key in reader.backend.client.scan_iter(match="p:*:e:*")  # type: ignore[attr-defined]
    ]
    assert entry_ttls and all(0 < ttl <= 1 for ttl in entry_ttls)
    proxy.cut()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
    writer._pending.drop()  # the writer dies before Redis is reachable again
    assert eventually(lambda: read(1) == "2.00", timeout=5)
    writer.close()
    reader.close()


def test_a_restart_from_the_aof_never_makes_old_entries_look_fresh(
    tmp_path: Path, engine: sa.Engine
) -> None:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    server = RedisServer(tmp_path, free_port(), "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    try:
        first = TurbinaCache(RedisBackend(client(server.url), "p"), CONTEXTS)
        first.track_session_writes(engine)
        soma = soma_of(first, engine)
        assert soma(1) == soma(1) == "15.75"
        snapshot = tmp_path / "aof-before-the-bump"
        shutil.copytree(tmp_path / "appendonlydir", snapshot)
        with engine.begin() as conn:  # bumped and acknowledged...
            conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
        assert first.stats()["pending_bumps"] == []
        server.kill()  # ...then lost: Redis comes back from a persistence older than it
        shutil.rmtree(tmp_path / "appendonlydir")
        shutil.copytree(snapshot, tmp_path / "appendonlydir")
        server.start()
        fresh = TurbinaCache(RedisBackend(client(server.url), "p"), CONTEXTS)
        assert soma_of(fresh, engine)(1) == "2.00"  # a process that starts now
        assert eventually(lambda: soma(1) == "2.00", timeout=3)  # one that was running
        first.close()
        fresh.close()
    finally:
        server.stop()


COUNTING = textwrap.dedent(
    """
    import sys, time
    import redis
    from turbina import RedisBackend, TurbinaCache

    url, prefix, mode = sys.argv[1:4]
    cache = TurbinaCache(RedisBackend(redis.Redis.from_url(url), prefix), {"c": 60})
    page = cache.cached("c", depends_on=[])(lambda n: n)
    for _ in range(50):
        page(1)
    if mode == "idle":
        print("done", flush=True)
        sys.stdin.read()  # stays alive, idle, until the test is done
    """
)


@pytest.mark.parametrize("mode", ["idle", "exit"])
def test_shared_counters_reach_the_store_from_idle_and_exiting_processes(
    redis_url: str, redis_prefix: str, mode: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", COUNTING, redis_url, redis_prefix, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        if mode == "idle":
            assert process.stdout.readline().strip() == "done"
        else:
            assert process.wait(30) == 0
        store = RedisBackend(redis.Redis.from_url(redis_url), redis_prefix)

        def counted() -> bool:
            counters = store.read_stats(["c"])["c"]
            return counters["hits"] == 49

        assert eventually(counted)
        store.close()
    finally:
        process.stdin.close()
        process.wait(30)
        process.stdout.close()
