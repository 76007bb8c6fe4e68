"""Per-request timing aggregated per endpoint in one worker, and its store source.

``RequestAggregator.record`` is the request path: one tuple appended to a queue (no lock)
and the alert limits checked; the flush thread folds the queue into per-endpoint counters
(bucket index, status class, Apdex) in ``drain()``, so a request pays for none of it.
Endpoints are url rules (``/orders/<int:id>``), never raw paths; past ``max_endpoints`` new
ones fold into ``<other>``.

Which tables each endpoint reads and writes: ``record`` also queues the request's query
collector's ``fingerprints`` dict (already built, not copied), and the fold maps each
fingerprint to its tables (``turbina.queries.tables.statement_tables``: sqlglot, memoized) and counts,
per table, the requests that read it and those that wrote it — at most ``max_tables`` tables
per endpoint, the rest under ``<other>`` (and so are the rows past the store's label cap,
under the endpoint's own ``<other>``); statements sqlglot cannot parse count under
``<unparsed>``, so a reader knows the endpoint's table list may be short.

``RequestsSource`` turns drained tables into store counters, keeps a rolling window of each
endpoint's histogram (the last ``P99_WINDOW_S``) to derive the relative alert limits, and
emits the alerts kept since the last flush.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from turbina.monitor.alerts import FIXED, RELATIVE, Alert, Alerts
from turbina.queries.histogram import BUCKETS_PER_DOUBLING, MIN_VALUE, LatencyHistogram
from turbina.queries.tables import statement_tables
from turbina.store.labels import LabelCap
from turbina.store.model import (
    ALERT_EVENT,
    ALERTS,
    OTHER,
    REQUESTS,
    TABLES,
    UNPARSED,
    Batch,
    label_id,
)

__all__ = [
    "UNMATCHED",
    "EndpointCounters",
    "RequestAggregator",
    "RequestsSource",
]

UNMATCHED = "<unmatched>"
P99_WINDOW_S = 300.0
P99_MIN_SAMPLES = 100
log = logging.getLogger("turbina.monitor")

MAX_QUEUED = 10_000  # requests recorded and not yet folded, per worker
MAX_TABLES = 50  # tables counted per endpoint; the rest fold into <other>
_MIN_INDEX = math.ceil(math.log2(MIN_VALUE) * BUCKETS_PER_DOUBLING)
_INF = math.inf
_log2 = math.log2
_ceil = math.ceil


class EndpointCounters:
    """What one worker counted for one (endpoint, method) since the last flush."""

    __slots__ = (
        "apdex_satisfied",
        "apdex_tolerating",
        "buckets",
        "cache_hits",
        "cache_misses",
        "db_ms",
        "ms",
        "n",
        "queries",
        "status",
        "tables",
    )

    def __init__(self) -> None:
        self.n = 0
        self.status = [0, 0, 0, 0, 0, 0]  # index = status // 100 (0: anything odd)
        self.ms = 0.0
        self.db_ms = 0.0
        self.queries = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.apdex_satisfied = 0
        self.apdex_tolerating = 0
        self.buckets: dict[int, int] = {}
        # table -> [requests reading it, requests writing it, read statements, write statements]
        self.tables: dict[str, list[int]] = {}

    def count_tables(self, fingerprints: Mapping[str, int], max_tables: int) -> None:
        """Add one request's statements (fingerprint -> count) to the per-table counters."""
        try:
            # A C-level copy: a streamed response may still run queries into the dict.
            seen = dict(fingerprints)
        except RuntimeError:
            return
        tables = self.tables
        touched: dict[str, list[int]] = {}  # table -> [read statements, write statements]
        room = max_tables - len(tables)  # new tables this endpoint may still take
        for fingerprint, count in seen.items():
            found = statement_tables(fingerprint)
            if found is None:
                pair = touched.get(UNPARSED)
                if pair is None:
                    pair = touched[UNPARSED] = [0, 0]
                pair[0] += count
                continue
            read, written = found
            for names, slot in ((read, 0), (written, 1)):
                for name in names:
                    pair = touched.get(name)
                    if pair is None:
                        if name not in tables:
                            if room <= 0:
                                name = OTHER
                            room -= 1
                        pair = touched.get(name)
                        if pair is None:
                            pair = touched[name] = [0, 0]
                    pair[slot] += count
        for name, (reads, writes) in touched.items():
            row = tables.get(name)
            if row is None:
                row = tables[name] = [0, 0, 0, 0]
            if reads:
                row[0] += 1
                row[2] += reads
            if writes:
                row[1] += 1
                row[3] += writes

    def table_fields(self) -> dict[str, dict[str, int]]:
        """Store fields of each table (see ``turbina.store.model.TABLES``)."""
        out = {}
        for name, (r, w, rs, ws) in self.tables.items():
            fields = {"r": r, "w": w, "rs": rs, "ws": ws}
            out[name] = {field: value for field, value in fields.items() if value}
        return out

    def fields(self) -> dict[str, int]:
        """Store fields (see ``turbina.store.model``)."""
        out = {f"b{index}": count for index, count in self.buckets.items()}
        for klass in range(1, 6):
            if self.status[klass]:
                out[f"s{klass}"] = self.status[klass]
        out.update(
            n=self.n,
            us=round(self.ms * 1000),
            db_us=round(self.db_ms * 1000),
            q=self.queries,
            ch=self.cache_hits,
            cm=self.cache_misses,
            ap_s=self.apdex_satisfied,
            ap_t=self.apdex_tolerating,
        )
        return {name: value for name, value in out.items() if value}


class RequestAggregator:
    """Request counters of one worker, per (endpoint, method).

    ``record`` (the request path) only appends a tuple to a queue — a ``deque`` append is
    thread-safe without a lock — and checks the alert limits; ``drain`` (the flush thread)
    folds the queue into per-endpoint counters. Past ``max_queued`` requests the recording
    thread folds the queue itself, so memory stays bounded whatever the flush interval.
    """

    def __init__(
        self,
        *,
        max_endpoints: int = 200,
        apdex_ms: float = 500.0,
        alert_slow_ms: float = 3000.0,
        alerts: Alerts | None = None,
        max_queued: int = MAX_QUEUED,
        max_tables: int = MAX_TABLES,
    ) -> None:
        self.max_endpoints = max_endpoints
        self.max_tables = max_tables
        self.apdex_ms = apdex_ms
        self.alert_slow_ms = alert_slow_ms if alert_slow_ms > 0 else math.inf
        self.alerts = alerts if alerts is not None else Alerts()
        self.max_queued = max_queued
        # (endpoint, method) -> relative alert limit in ms; replaced whole by the flush thread.
        self.limits: dict[tuple[str, str], float] = {}
        self._queue: deque[tuple[Any, ...]] = deque()
        self._fold_lock = threading.Lock()
        self._table: dict[tuple[str, str], EndpointCounters] = {}
        self._admitted: set[tuple[str, str]] = set()
        self.folded = 0

    def record(
        self,
        endpoint: str,
        method: str,
        status: int,
        ms: float,
        db_ms: float = 0.0,
        queries: int = 0,
        cache_hits: int = 0,
        cache_misses: int = 0,
        fingerprints: Mapping[str, int] | None = None,
    ) -> None:
        """Count one finished request (the request path: no I/O, no store, no lock).
        ``fingerprints`` (the query collector's fingerprint -> count) is kept, not copied:
        its tables are found when the queue is folded."""
        key = (endpoint, method)
        queue = self._queue
        queue.append((key, status, ms, db_ms, queries, cache_hits, cache_misses, fingerprints))
        if ms >= self.alert_slow_ms:
            self._alert(FIXED, key, ms, self.alert_slow_ms, status)
        else:
            limit = self.limits.get(key)
            if limit is not None and ms > limit:
                self._alert(RELATIVE, key, ms, limit, status)
        if len(queue) > self.max_queued:
            with self._fold_lock:
                self._fold()

    def _fold(self) -> None:
        """Move the queued requests into the table (under ``_fold_lock``)."""
        queue, table, new = self._queue, self._table, self._new
        popleft = queue.popleft
        apdex_ms, tolerated = self.apdex_ms, 4 * self.apdex_ms
        log2, ceil, per_doubling = _log2, _ceil, BUCKETS_PER_DOUBLING
        max_tables = self.max_tables
        for _ in range(len(queue)):  # what is queued now; later appends wait for the next fold
            key, status, ms, db_ms, queries, cache_hits, cache_misses, fingerprints = popleft()
            counters = table.get(key)
            if counters is None:
                counters = new(key)
            counters.n += 1
            klass = status // 100
            counters.status[klass if 0 < klass < 6 else 0] += 1
            counters.ms += ms
            counters.db_ms += db_ms
            counters.queries += queries
            counters.cache_hits += cache_hits
            counters.cache_misses += cache_misses
            if klass != 5:
                if ms <= apdex_ms:
                    counters.apdex_satisfied += 1
                elif ms <= tolerated:
                    counters.apdex_tolerating += 1
            index = _MIN_INDEX if ms <= MIN_VALUE else ceil(log2(ms) * per_doubling)
            buckets = counters.buckets
            buckets[index] = buckets.get(index, 0) + 1
            if fingerprints:
                counters.count_tables(fingerprints, max_tables)

    def _new(self, key: tuple[str, str]) -> EndpointCounters:
        if key not in self._admitted:
            if len(self._admitted) >= self.max_endpoints:
                self.folded += 1
                other = self._table.get((OTHER, key[1]))
                if other is None:
                    other = self._table[(OTHER, key[1])] = EndpointCounters()
                return other
            self._admitted.add(key)
        counters = self._table[key] = EndpointCounters()
        return counters

    def _alert(self, kind: str, key: tuple[str, str], ms: float, limit: float, status: int) -> None:
        if key not in self._admitted and len(self._admitted) >= self.max_endpoints:
            key = (OTHER, key[1])
        self.alerts.offer(
            Alert(time.time(), kind, key[0], key[1], round(ms, 3), round(limit, 3), status)
        )

    def drain(self) -> dict[tuple[str, str], EndpointCounters]:
        """What was counted since the last call (folded, then the table is swapped)."""
        with self._fold_lock:
            self._fold()
            table, self._table = self._table, {}
        return table

    def after_fork(self) -> None:
        """Forget what the parent process counted."""
        self._fold_lock = threading.Lock()
        self._queue = deque()
        self._table = {}
        self.alerts.after_fork()


class RequestsSource:
    """Store source of a ``RequestAggregator``; ``on_alert`` callbacks get each alert."""

    def __init__(
        self,
        aggregator: RequestAggregator,
        cap: LabelCap,
        *,
        p99_factor: float = 2.0,
        on_alert: list[Callable[[Alert], None]] | None = None,
    ) -> None:
        self.aggregator = aggregator
        self.cap = cap
        self.p99_factor = p99_factor
        self.on_alert = on_alert if on_alert is not None else [log_alert]
        self._recent: dict[tuple[str, str], deque[tuple[float, dict[int, int]]]] = {}

    def collect(self, batch: Batch) -> None:
        table = self.aggregator.drain()
        for (endpoint, method), counters in table.items():
            label, _folded = self.cap.id_for(REQUESTS, (endpoint, method))
            batch.add(REQUESTS, label, counters.fields())
            batch.describe(REQUESTS, label, {"endpoint": endpoint, "method": method})
            for name, fields in counters.table_fields().items():
                label, folded = self.cap.id_for(TABLES, (endpoint, method, name))
                if folded:  # past the store's cap: this endpoint's <other> row (endpoints
                    name = OTHER  # are capped, so these rows are too)
                    label = label_id(TABLES, (endpoint, method, OTHER))
                batch.add(TABLES, label, fields)
                batch.describe(
                    TABLES, label, {"endpoint": endpoint, "method": method, "table": name}
                )
        if self.p99_factor > 0:
            self._update_limits(batch.at, table)
        for alert in self.aggregator.alerts.drain():
            label, _folded = self.cap.id_for(ALERTS, (alert.endpoint, alert.method, alert.kind))
            batch.add(ALERTS, label, {"n": 1})
            batch.describe(
                ALERTS,
                label,
                {"endpoint": alert.endpoint, "method": alert.method, "kind": alert.kind},
            )
            batch.events.append((ALERT_EVENT, alert.to_dict()))
            for callback in self.on_alert:
                try:
                    callback(alert)
                except Exception as exc:  # an app's handler must not stop the flush
                    log.warning("turbina.monitor: an alert handler failed: %r", exc)

    def _update_limits(self, now: float, table: dict[tuple[str, str], EndpointCounters]) -> None:
        recent = self._recent
        for key, counters in table.items():
            window = recent.get(key)
            if window is None:
                if len(recent) >= self.aggregator.max_endpoints + 10:
                    continue
                window = recent[key] = deque(maxlen=int(P99_WINDOW_S) + 1)
            window.append((now, dict(counters.buckets)))
        limits: dict[tuple[str, str], float] = {}
        for key, window in recent.items():
            while window and window[0][0] < now - P99_WINDOW_S:
                window.popleft()
            histogram = LatencyHistogram()
            for _at, buckets in window:
                for index, count in buckets.items():
                    histogram.buckets[index] = histogram.buckets.get(index, 0) + count
                    histogram.count += count
            if histogram.count >= P99_MIN_SAMPLES:
                histogram.min, histogram.max = 0.0, math.inf
                limits[key] = histogram.percentile(99) * self.p99_factor
        self.aggregator.limits = limits

    def after_fork(self) -> None:
        """Forget the parent's counts and windows."""
        self.aggregator.after_fork()
        self._recent = {}


def log_alert(alert: Alert) -> None:
    """The default alert handler: a WARNING record on the ``turbina.monitor`` logger."""
    log.warning("turbina: %s", alert.describe(), extra={"turbina_alert": alert.to_dict()})
