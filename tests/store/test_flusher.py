"""The flusher: deltas across processes, a dead store and its return, caps, the request path."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from redis_servers import RedisServer
from turbina.monitor.requests import RequestAggregator, RequestsSource
from turbina.queries.histogram import LatencyHistogram
from turbina.store.backends.memory import MemoryStore
from turbina.store.backends.sqlite import SQLiteStore
from turbina.store.flusher import Flusher
from turbina.store.labels import LabelCap
from turbina.store.model import OTHER, REQUESTS, SELF, label_id

WORKER = textwrap.dedent(
    """
    import json, random, sys
    from turbina.monitor.requests import RequestAggregator, RequestsSource
    from turbina.store.backends.sqlite import SQLiteStore
    from turbina.store.flusher import Flusher
    from turbina.store.labels import LabelCap

    path, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    aggregator = RequestAggregator(alert_slow_ms=0)
    flusher = Flusher(SQLiteStore(path), [RequestsSource(aggregator, LabelCap())])
    values = [rng.lognormvariate(2, 1.5) for _ in range(count)]
    for i, ms in enumerate(values):
        aggregator.record("/items/<int:id>", "GET", 200 if i % 10 else 500, ms)
        if i % 250 == 0:
            assert flusher.flush()
    assert flusher.flush()
    print(json.dumps(values))
    """
)


def _source(aggregator: RequestAggregator) -> RequestsSource:
    return RequestsSource(aggregator, LabelCap(), p99_factor=0)


def test_histograms_from_processes_merge_exactly(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(seed), "1200"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2, 3)
    ]
    values = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        values += json.loads(out)
    expected = LatencyHistogram()
    for value in values:
        expected.record(value)
    fields = (
        SQLiteStore(path)
        .read(time.time() - 300)
        .counters[(REQUESTS, label_id(REQUESTS, ("/items/<int:id>", "GET")))]
    )
    assert fields["n"] == 3600 and fields["s5"] == 360 and fields["s2"] == 3240
    assert {int(k[1:]): v for k, v in fields.items() if k.startswith("b")} == expected.buckets
    assert abs(fields["us"] - sum(values) * 1000) <= 3 * 1200  # µs rounding per flush


def test_a_dead_store_keeps_the_deltas_until_it_returns() -> None:
    store = MemoryStore()
    aggregator = RequestAggregator(alert_slow_ms=0)
    flusher = Flusher(store, [_source(aggregator)])
    for _ in range(10):
        aggregator.record("/a", "GET", 200, 5.0)
    store.fail = True
    assert not flusher.flush()
    for _ in range(5):
        aggregator.record("/a", "GET", 200, 5.0)
    assert not flusher.flush()
    assert flusher.status()["pending_batches"] == 1  # the same minute: merged
    store.fail = False
    assert flusher.flush()
    reading = store.read(time.time() - 300)
    assert reading.counters[(REQUESTS, label_id(REQUESTS, ("/a", "GET")))]["n"] == 15
    own = reading.counters[(SELF, label_id(SELF, ("flusher",)))]
    assert own["flush_errors"] == 2 and own["flushes"] == 3 and "dropped" not in own


def test_past_the_cap_the_oldest_pending_batches_are_dropped_and_counted() -> None:
    store = MemoryStore()
    aggregator = RequestAggregator(alert_slow_ms=0)
    flusher = Flusher(store, [_source(aggregator)], max_pending_fields=20)
    store.fail = True
    base = time.time()
    for minute in range(5):  # five minutes of outage: five batches that cannot merge
        for _ in range(3):
            aggregator.record(f"/m{minute}", "GET", 200, 1.0)
        flusher.pending = [
            type(b)(at=base - 600 + 60 * i, worker=b.worker, counters=b.counters)
            for i, b in enumerate(flusher.pending)
        ]
        assert not flusher.flush()
    assert sum(b.size() for b in flusher.pending) <= 20
    dropped = 5 - len(flusher.pending)
    assert dropped > 0
    store.fail = False
    assert flusher.flush()
    own = store.totals().counters[(SELF, label_id(SELF, ("flusher",)))]
    assert own["dropped"] == dropped


def test_label_caps_fold_the_rest_into_other() -> None:
    store = MemoryStore()
    aggregator = RequestAggregator(max_endpoints=2, alert_slow_ms=0)
    flusher = Flusher(store, [_source(aggregator)])
    for endpoint in ("/a", "/b", "/c", "/d", "/a"):
        aggregator.record(endpoint, "GET", 200, 1.0)
    assert flusher.flush()
    aggregator.record("/e", "GET", 200, 1.0)  # admission is sticky: /a and /b stay named
    aggregator.record("/b", "GET", 200, 1.0)
    assert flusher.flush()
    rows = {
        info["endpoint"]: fields["n"]
        for _label, info, fields in store.read(time.time() - 300).of_kind(REQUESTS)
    }
    assert rows == {"/a": 2, "/b": 2, OTHER: 3}
    cap = LabelCap({"x": 1})
    assert cap.id_for("x", ("one",)) == (label_id("x", ("one",)), False)
    assert cap.id_for("x", ("two",)) == (LabelCap.other("x"), True)
    assert len(cap) == 1 and cap.folded == {"x": 1}


def test_requests_recorded_by_many_threads_while_flushing_are_counted_once() -> None:
    store = MemoryStore()
    aggregator = RequestAggregator(alert_slow_ms=0, max_queued=500)  # the queue folds inline too
    flusher = Flusher(store, [_source(aggregator)])
    per_thread, threads = 4000, 4

    def serve(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(per_thread):
            aggregator.record("/x", "GET", 200 if i % 7 else 500, rng.uniform(0.01, 50.0))

    workers = [threading.Thread(target=serve, args=(seed,)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        assert flusher.flush()  # drains race the recording threads
    assert flusher.flush()
    assert len(aggregator._queue) == 0
    [(_label, _info, fields)] = store.read(time.time() - 300).of_kind(REQUESTS)
    assert fields["n"] == per_thread * threads
    assert fields["s5"] == threads * len(range(0, per_thread, 7))
    assert sum(v for k, v in fields.items() if k.startswith("b")) == per_thread * threads


def test_the_request_queue_is_bounded() -> None:
    aggregator = RequestAggregator(alert_slow_ms=0, max_queued=100)
    for _ in range(1000):
        aggregator.record("/x", "GET", 200, 1.0)
        assert len(aggregator._queue) <= 101
    assert aggregator.drain()[("/x", "GET")].n == 1000


def test_a_flusher_that_never_started_writes_nothing_at_exit() -> None:
    store = MemoryStore()
    flusher = Flusher(store, [_source(RequestAggregator())])
    from turbina.store.flusher import flush_all

    flush_all()
    assert store.writes == 0 and not flusher.started
    flusher.ensure_started()
    flush_all()
    assert store.writes == 1
    flusher.stop(flush=False)


@pytest.mark.redis
def test_redis_down_and_back(own_redis: RedisServer) -> None:
    from turbina.store.backends.redis import RedisStore
    from turbina.store.connect import redis_client

    store = RedisStore(redis_client(own_redis.url), "t")
    aggregator = RequestAggregator(alert_slow_ms=0)
    flusher = Flusher(store, [_source(aggregator)])
    key = (REQUESTS, label_id(REQUESTS, ("/r", "POST")))
    rng = random.Random(5)
    sent = 0
    for phase in ("up", "down", "down", "back"):
        if phase == "down":
            own_redis.stop()
        elif phase == "back":
            own_redis.start()  # a new, empty server (no persistence): "up" is gone with it
        count = rng.randint(5, 50)
        for _ in range(count):
            aggregator.record("/r", "POST", 201, 2.0)
        sent += count
        assert flusher.flush() is (phase != "down")
        if phase == "up":
            assert store.read(time.time() - 300).counters[key]["n"] == sent
            sent = 0
    fields = store.read(time.time() - 300).counters[key]
    assert fields["n"] == fields["s2"] == sent  # both outage flushes arrived, once each
    store.close()
