"""Per-fingerprint statistics of one engine, capped, evicting the least used entries.

Also home of ``WorkloadSample``, the record the index advisor reads: one raw statement and
one parameter set per fingerprint, kept in memory only and never shown.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from turbina.queries.histogram import BUCKETS_PER_DOUBLING, MIN_VALUE, LatencyHistogram

_MIN_INDEX = math.ceil(math.log2(MIN_VALUE) * BUCKETS_PER_DOUBLING)
_log2 = math.log2
_ceil = math.ceil

# When full, drop this share of the least used entries at once: one sort per many inserts
# keeps eviction amortized O(log n) instead of an O(n) scan per new fingerprint.
EVICT_FRACTION = 0.1

# Which placeholders take the same value on every call (the evidence the index advisor needs for
# a partial-index predicate). Each call's parameters are compared with the sample's while calls
# are few, then one call in CHECK_EVERY: a bounded cost per query, and none at all once every
# placeholder has been seen to vary. A placeholder counts as constant after MIN_EVIDENCE checked
# calls all agreed with the sample.
CHECK_ALL = 64
CHECK_EVERY = 32
MIN_EVIDENCE = 4


@dataclass(frozen=True)
class WorkloadSample:
    """One fingerprint of the captured workload, as the index advisor needs it.

    ``statement`` and ``parameters`` are one raw sample as sent to the cursor: in memory only,
    never logged or displayed (they may hold personal data). ``constant_parameters`` are the
    placeholder keys (names, or positions as strings) whose value was the sample's on every
    checked call; ``rows`` the rows the statement's calls affected or returned in total.
    """

    engine_name: str
    dialect: str
    fingerprint: str
    statement: str
    parameters: Any
    calls: int
    total_ms: float
    mean_ms: float
    constant_parameters: frozenset[str] = frozenset()
    rows: int = 0


def _placeholder_keys(parameters: Any) -> set[Any] | None:
    """The keys of one parameter set; None for none, or for an executemany batch."""
    if isinstance(parameters, dict):
        return set(parameters) or None
    if isinstance(parameters, tuple | list) and parameters:
        if isinstance(parameters[0], tuple | list | dict):
            return None  # a batch: its rows differ by design
        return set(range(len(parameters)))
    return None


class QueryStats:
    """Counters of one (engine, fingerprint)."""

    __slots__ = (
        "calls",
        "checked",
        "fingerprint",
        "histogram",
        "open_keys",
        "plan",
        "rows",
        "sample_parameters",
        "sample_statement",
        "total_ms",
    )

    def __init__(self, fingerprint: str, statement: str, parameters: Any) -> None:
        self.fingerprint = fingerprint
        self.calls = 0
        self.total_ms = 0.0
        self.rows = 0
        self.histogram = LatencyHistogram()
        self.sample_statement = statement
        self.sample_parameters = parameters
        self.plan: Any = None
        self.open_keys = _placeholder_keys(parameters)
        self.checked = 0

    @property
    def constant_parameters(self) -> frozenset[str]:
        """Placeholder keys whose value agreed with the sample's on every checked call (at
        least MIN_EVIDENCE of them)."""
        if not self.open_keys or self.checked < MIN_EVIDENCE:
            return frozenset()
        return frozenset(str(key) for key in self.open_keys)

    def compare(self, parameters: Any) -> None:
        """Drop the placeholders whose value in ``parameters`` differs from the sample's."""
        keys = self.open_keys
        if keys is None:
            return
        sample = self.sample_parameters
        try:
            for key in tuple(keys):
                value = parameters[key]
                same = sample[key]
                if value is not same and (type(value) is not type(same) or bool(value != same)):
                    keys.discard(key)
        except Exception:  # another shape of parameters (or an odd value): no evidence at all
            keys.clear()
        self.checked += 1
        if not keys:
            self.open_keys = None

    @property
    def mean_ms(self) -> float:
        """Mean duration in milliseconds."""
        return self.total_ms / self.calls if self.calls else 0.0

    def summary(self) -> dict[str, Any]:
        """A display-safe dict (fingerprint has no literals; no raw statement or parameters)."""
        hist = self.histogram
        return {
            "fingerprint": self.fingerprint,
            "calls": self.calls,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "p50_ms": round(hist.percentile(50), 3),
            "p95_ms": round(hist.percentile(95), 3),
            "p99_ms": round(hist.percentile(99), 3),
            "max_ms": round(hist.max, 3),
            "rows": self.rows,
            "plan": self.plan,
        }


class StatsTable:
    """``fingerprint -> QueryStats`` with at most ``capacity`` entries.

    ``record`` takes a lock: a few hundred nanoseconds buys exact counts under threads.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.entries: dict[str, QueryStats] = {}
        self.lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[QueryStats]:
        with self.lock:
            return iter(list(self.entries.values()))

    def get(self, fingerprint: str) -> QueryStats | None:
        """The entry of ``fingerprint`` if present."""
        return self.entries.get(fingerprint)

    def record(
        self, fingerprint: str, statement: str, parameters: Any, ms: float, rows: int
    ) -> QueryStats:
        """Count one execution and return its entry."""
        index = _MIN_INDEX if ms <= MIN_VALUE else _ceil(_log2(ms) * BUCKETS_PER_DOUBLING)
        with self.lock:
            entry = self.entries.get(fingerprint)
            if entry is None:
                entry = self._add(fingerprint, statement, parameters)
            entry.calls += 1
            calls = entry.calls
            if (
                entry.open_keys is not None
                and calls > 1
                and (calls <= CHECK_ALL or not calls % CHECK_EVERY)
            ):
                entry.compare(parameters)
            entry.total_ms += ms
            if rows > 0:
                entry.rows += rows
            # LatencyHistogram.record, inlined: this runs once per query.
            hist = entry.histogram
            buckets = hist.buckets
            buckets[index] = buckets.get(index, 0) + 1
            hist.count += 1
            hist.total += ms
            if ms > hist.max:
                hist.max = ms
            if ms < hist.min:
                hist.min = ms
            return entry

    def _add(self, fingerprint: str, statement: str, parameters: Any) -> QueryStats:
        entries = self.entries
        if len(entries) >= self.capacity:
            drop = max(1, int(self.capacity * EVICT_FRACTION))
            victims = sorted(entries.values(), key=lambda e: e.calls)[:drop]
            for victim in victims:
                del entries[victim.fingerprint]
            self.evicted += len(victims)
        entry = QueryStats(fingerprint, statement, parameters)
        entries[fingerprint] = entry
        return entry

    def clear(self) -> None:
        """Forget every entry."""
        with self.lock:
            self.entries.clear()
