"""``MemoryStore``: the store in one process's memory, for tests and single-process tools.

Several flushers (one per simulated worker) may write to one instance; old buckets are
dropped on write, like the other backends' TTLs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from turbina.store.backends.base import RESOLUTIONS, StoreBackend
from turbina.store.model import (
    EVENTS_PER_HOUR,
    GAUGE_RETENTION_S,
    HOUR,
    HOUR_RETENTION_S,
    MINUTE,
    MINUTE_RETENTION_S,
    Batch,
    Counters,
    add_counts,
    bucket_of,
)

__all__ = ["MemoryStore"]


class MemoryStore(StoreBackend):
    """Counters in dicts, guarded by one lock."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, int], Counters] = {}
        self._labels: dict[tuple[str, str], dict[str, Any]] = {}
        self._events: dict[tuple[str, int], deque[dict[str, Any]]] = {}
        self._gauges: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.fail = False  # tests: make every write raise, as a dead store does

    def write(self, batches: Sequence[Batch]) -> None:
        if self.fail:
            raise ConnectionError("memory store set to fail")
        with self._lock:
            for batch in batches:
                for res in RESOLUTIONS:
                    bucket = self._buckets.setdefault((res, bucket_of(batch.at, res)), {})
                    for key, fields in batch.counters.items():
                        add_counts(bucket.setdefault(key, {}), fields)
                self._labels.update(batch.labels)
                for kind, payload in sorted(batch.events, key=lambda e: float(e[1].get("at", 0))):
                    hour = bucket_of(float(payload.get("at", batch.at)), HOUR)
                    events = self._events.setdefault((kind, hour), deque(maxlen=EVENTS_PER_HOUR))
                    events.append(payload)  # the oldest drop out first
                if batch.gauges is not None:
                    self._gauges[batch.worker] = dict(batch.gauges, at=batch.at)
            self._expire(time.time())
            self.writes += 1

    def _expire(self, now: float) -> None:
        oldest = {MINUTE: bucket_of(now - MINUTE_RETENTION_S, MINUTE)}
        oldest[HOUR] = bucket_of(now - HOUR_RETENTION_S, HOUR)
        for res, bucket in list(self._buckets):
            if res in oldest and bucket < oldest[res]:
                del self._buckets[(res, bucket)]
        for kind, hour in list(self._events):
            if hour < oldest[HOUR]:
                del self._events[(kind, hour)]
        for worker, gauges in list(self._gauges.items()):
            if gauges["at"] < now - GAUGE_RETENTION_S:
                del self._gauges[worker]

    def bucket_counters(
        self, resolution: int, buckets: Sequence[int], kinds: Iterable[str]
    ) -> dict[int, Counters]:
        wanted = set(kinds)
        with self._lock:
            return {
                bucket: {key: dict(fields) for key, fields in counters.items() if key[0] in wanted}
                for bucket in buckets
                if (counters := self._buckets.get((resolution, bucket))) is not None
            }

    def labels(self, kinds: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        wanted = set(kinds)
        with self._lock:
            return {key: dict(info) for key, info in self._labels.items() if key[0] in wanted}

    def events(
        self, kinds: Iterable[str], since: float, until: float
    ) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            for kind in kinds:
                for hour in range(bucket_of(since, HOUR), bucket_of(until, HOUR) + 1):
                    for payload in self._events.get((kind, hour), ()):
                        if since <= float(payload.get("at", 0.0)) <= until:
                            found.append((kind, dict(payload)))
        found.sort(key=lambda item: float(item[1].get("at", 0.0)), reverse=True)
        return found

    def worker_gauges(self, since: float) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {w: dict(g) for w, g in self._gauges.items() if g["at"] >= since}
