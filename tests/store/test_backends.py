"""One suite for every store backend: merged reads, windows, roll-up, caps and retention."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from turbina.queries.histogram import LatencyHistogram, bucket_index
from turbina.store.backends.base import StoreBackend
from turbina.store.backends.sqlite import SQLiteStore
from turbina.store.model import (
    EVENTS_PER_HOUR,
    HOUR,
    MINUTE,
    REQUESTS,
    SLOW_EVENT,
    Batch,
    label_id,
)

ENDPOINT = label_id(REQUESTS, ("/orders/<int:id>", "GET"))


def _batch(at: float, worker: str, values: list[float]) -> Batch:
    batch = Batch(at=at, worker=worker)
    fields: dict[str, int] = {"n": len(values), "us": round(sum(values) * 1000)}
    for value in values:
        name = f"b{bucket_index(value)}"
        fields[name] = fields.get(name, 0) + 1
    batch.add(REQUESTS, ENDPOINT, fields)
    batch.describe(REQUESTS, ENDPOINT, {"endpoint": "/orders/<int:id>", "method": "GET"})
    return batch


def _buckets(fields: dict[str, int]) -> dict[int, int]:
    return {int(k[1:]): v for k, v in fields.items() if k.startswith("b")}


def test_workers_merge_exactly(store: StoreBackend) -> None:
    rng = random.Random(7)
    now = time.time()
    per_worker = {w: [rng.lognormvariate(3, 1) for _ in range(500)] for w in ("a:1", "b:2", "c:3")}
    store.write([_batch(now, worker, values) for worker, values in per_worker.items()])
    store.write([_batch(now, "a:1", per_worker["a:1"][:10])])  # a second flush of worker a
    reading = store.read(now - 300)
    fields = reading.counters[(REQUESTS, ENDPOINT)]
    expected = LatencyHistogram()
    for value in [v for values in per_worker.values() for v in values] + per_worker["a:1"][:10]:
        expected.record(value)
    assert fields["n"] == expected.count == 1510
    assert _buckets(fields) == expected.buckets  # bucket for bucket: the merge is exact
    assert reading.labels[(REQUESTS, ENDPOINT)] == {"endpoint": "/orders/<int:id>", "method": "GET"}
    assert store.totals().counters[(REQUESTS, ENDPOINT)] == fields


def test_windows_pick_the_buckets_of_their_span(store: StoreBackend) -> None:
    now = time.time()
    ages = {"2m": 2 * MINUTE, "20m": 20 * MINUTE, "90m": 90 * MINUTE, "5h": 5 * HOUR}
    store.write([_batch(now - age, "w:1", [10.0] * (i + 1)) for i, age in enumerate(ages.values())])

    def calls(since: float) -> int:
        return store.read(since).counters.get((REQUESTS, ENDPOINT), {}).get("n", 0)

    assert calls(now - 5 * MINUTE) == 1
    assert calls(now - HOUR) == 1 + 2
    assert calls(now - 2 * HOUR) == 1 + 2 + 3  # still minute buckets: exact to the minute
    assert calls(now - 24 * HOUR) == 1 + 2 + 3 + 4  # hour buckets
    assert store.read(now - 24 * HOUR).resolution == HOUR
    assert store.read(now - HOUR).resolution == MINUTE


def test_minutes_roll_up_into_hours(store: StoreBackend) -> None:
    now = time.time()
    start = (now // HOUR) * HOUR  # the current hour, whose minutes are all kept
    rng = random.Random(3)
    batches = [
        _batch(start + rng.uniform(0, now - start), f"w:{i % 3}", [rng.uniform(1, 900)] * 3)
        for i in range(40)
    ]
    store.write(batches)
    by_minute = store.read(start, resolution=MINUTE).counters[(REQUESTS, ENDPOINT)]
    by_hour = store.read(start, resolution=HOUR).counters[(REQUESTS, ENDPOINT)]
    assert by_minute == by_hour and by_minute["n"] == 120
    resolution, points = store.series(REQUESTS, ENDPOINT, start)
    assert resolution == MINUTE and sum(fields["n"] for _t, fields in points) == 120
    assert [t for t, _f in points] == sorted(t for t, _f in points)


def test_events_are_capped_per_hour_and_filtered_by_window(store: StoreBackend) -> None:
    now = time.time()
    batch = Batch(at=now, worker="w:1")
    for i in range(EVENTS_PER_HOUR + 30):
        batch.events.append((SLOW_EVENT, {"at": now - i * 0.001, "sql": f"select {i}"}))
    old = Batch(at=now - 3 * HOUR, worker="w:1", events=[(SLOW_EVENT, {"at": now - 3 * HOUR})])
    store.write([old, batch])
    recent = store.read(now - 60).events
    assert len(recent) <= EVENTS_PER_HOUR + 30 and len(recent) >= EVENTS_PER_HOUR - 30
    assert recent[0][1]["sql"] == "select 0"  # newest first
    assert all(kind == SLOW_EVENT for kind, _payload in recent)
    assert len(store.read(now - 4 * HOUR).events) == len(recent) + 1


def test_gauges_of_silent_workers_go(store: StoreBackend) -> None:
    now = time.time()
    store.write(
        [
            Batch(at=now - 3600, worker="old:1", gauges={"pid": 1}),
            Batch(at=now, worker="new:2", gauges={"pid": 2, "pools": {}}),
        ]
    )
    gauges = store.read(now - 300).gauges
    assert list(gauges) == ["new:2"] and gauges["new:2"]["pid"] == 2


def test_an_empty_store_reads_as_empty(store: StoreBackend) -> None:
    reading = store.read(time.time() - 300)
    assert reading.counters == {} and reading.events == [] and reading.gauges == {}
    assert store.totals().counters == {}


def test_sqlite_deletes_expired_buckets_and_uses_wal(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "sub" / "store.db")
    now = time.time()
    store.write([_batch(now - 3 * HOUR, "w:1", [1.0]), _batch(now - 50 * HOUR, "w:1", [1.0])])
    store.write([_batch(now, "w:1", [1.0])])
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute(
            "SELECT res, count(DISTINCT bucket) FROM turbina_counters GROUP BY res ORDER BY res"
        ).fetchall()
    conn.close()
    # minutes: only the current one; hours: the current one and 3 h ago; totals: one bucket
    assert rows == [(0, 1), (MINUTE, 1), (HOUR, 2)]


@pytest.mark.redis
def test_every_redis_key_has_a_ttl_and_one_slot(redis_url: str, redis_prefix: str) -> None:
    import redis

    from turbina.store.backends.redis import RedisStore

    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client, redis_prefix)
    now = time.time()
    batch = _batch(now, "w:1", [5.0, 50.0])
    batch.events.append((SLOW_EVENT, {"at": now, "sql": "select ?"}))
    batch.gauges = {"pid": 1}
    store.write([batch])
    keys = [k.decode() for k in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
    assert len(keys) >= 6
    assert all(client.ttl(key) > 0 for key in keys), {k: client.ttl(k) for k in keys}
    assert {key.split("}")[0] for key in keys} == {f"{redis_prefix}:{{{redis_prefix}:m"}
    store.close()


@pytest.mark.redis
def test_redis_cluster_store(redis_cluster: list[int], unique: str) -> None:
    from redis.cluster import RedisCluster

    from turbina.store.backends.redis import RedisStore

    store = RedisStore(
        connect=lambda: RedisCluster(host="127.0.0.1", port=redis_cluster[0]), prefix=f"c{unique}"
    )
    now = time.time()
    store.write([_batch(now, "a:1", [3.0] * 7), _batch(now, "b:2", [30.0] * 5)])
    batch = Batch(at=now, worker="a:1", gauges={"pid": 1})
    batch.events.append((SLOW_EVENT, {"at": now, "sql": "select ?"}))
    store.write([batch])
    reading = store.read(now - 300)
    assert reading.counters[(REQUESTS, ENDPOINT)]["n"] == 12
    assert [kind for kind, _p in reading.events] == [SLOW_EVENT]
    assert list(reading.gauges) == ["a:1"]
    store.close()


FIRST_WRITE = """
import sys, time
from turbina.store.backends.sqlite import SQLiteStore
from turbina.store.model import REQUESTS, Batch
path, start = sys.argv[1], float(sys.argv[2])
batch = Batch(worker=sys.argv[3], at=time.time())
batch.add(REQUESTS, "r", {"n": 1})
store = SQLiteStore(path)
while time.time() < start:
    pass
store.write([batch])  # the first connection of this process: WAL mode and the schema
"""


def test_workers_writing_their_first_batch_at_once_all_land(tmp_path: Path) -> None:
    """Every gunicorn worker flushing at one exit opens a new store file at the same moment;
    switching it to WAL can answer "database is locked" at once (no busy wait)."""
    for attempt in range(3):
        path = tmp_path / f"first-{attempt}.db"
        start = time.time() + 1.5
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_WRITE, str(path), str(start), f"w{i}"],
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(8)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), [e[-400:] for e in errors if e]
        reading = SQLiteStore(path).read(time.time() - 60)
        assert sum(fields["n"] for _l, _i, fields in reading.of_kind(REQUESTS)) == 8
