"""The in-process counters: hits are counted without a lock, and none is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from turbina.cache.stats import LocalCounters


def test_hits_from_many_threads_are_all_delivered() -> None:
    sent: list[Mapping[str, Mapping[str, int]]] = []
    counters = LocalCounters(sent.append, interval_s=3600)

    def work() -> None:
        for _ in range(20_000):
            counters.add("ctx", "hits")
        counters.add("ctx", "miss_first")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot() == {"ctx": {"hits": 80_000, "miss_first": 4}}
    assert counters.flush()
    counters.add("ctx", "hits")
    assert counters.flush()
    totals: dict[str, int] = {}
    for batch in sent:
        for field, amount in batch["ctx"].items():
            totals[field] = totals.get(field, 0) + amount
    assert totals == {"hits": 80_001, "miss_first": 4}
    assert counters.snapshot() == {}


def test_hits_alone_reach_the_store_without_another_event() -> None:
    """A process that only hits (no miss, nothing else that takes the lock) still flushes."""
    sent: list[Mapping[str, Mapping[str, int]]] = []
    counters = LocalCounters(sent.append, interval_s=0.05)
    counters.add("ctx", "hits")
    assert counters.flush()
    counters.add("ctx", "hits")  # lock-free: wakes nobody
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [dict(batch["ctx"]) for batch in sent] == [{"hits": 1}, {"hits": 1}]


def test_a_failed_flush_keeps_the_hits() -> None:
    calls: list[int] = []

    def flaky(batch: Mapping[str, Mapping[str, int]]) -> None:
        calls.append(batch["ctx"]["hits"])
        if len(calls) == 1:
            raise ConnectionError("store down")

    counters = LocalCounters(flaky, interval_s=3600)
    for _ in range(3):
        counters.add("ctx", "hits")
    assert not counters.flush()
    counters.add("ctx", "hits")
    assert counters.flush()
    assert calls == [3, 4]
