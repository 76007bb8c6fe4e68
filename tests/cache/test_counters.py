"""The in-process counters: hits are counted without a lock, and none is lost."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Mapping
from typing import Any

import pytest

from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.region import TurbinaCache
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


class _Tally:
    """An observer of the cache's events: counts them and passes each one on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: dict[tuple[str, str], int] = {}

    def add(self, context: str, field: str, amount: int = 1) -> None:
        self.seen[(context, field)] = self.seen.get((context, field), 0) + amount
        self.inner.add(context, field, amount)

    def flush(self) -> bool:
        return bool(self.inner.flush())

    def snapshot(self) -> dict[str, dict[str, int]]:
        return dict(self.inner.snapshot())


def test_an_observer_sees_every_event_and_the_cache_still_counts_them() -> None:
    cache = TurbinaCache(MemoryBackend(), {"ctx": 60})
    tally = cache.observe_counts(_Tally)

    @cache.cached("ctx", depends_on=[])
    def answer() -> int:
        return 42

    assert [answer() for _ in range(3)] == [42, 42, 42]
    assert tally.seen[("ctx", "hits")] == 2
    assert sum(n for (_ctx, field), n in tally.seen.items() if field.startswith("miss")) == 1
    stats = cache.stats()["contexts"]["ctx"]
    assert stats["hits"] == 2


def test_an_observer_without_the_buffer_methods_is_refused() -> None:
    cache = TurbinaCache(MemoryBackend(), {"ctx": 60})
    with pytest.raises(TypeError, match="snapshot"):
        cache.observe_counts(lambda inner: types.SimpleNamespace(add=inner.add, flush=inner.flush))
