"""A Prometheus collector that reads the merged store at scrape time (extra ``prometheus``).

No per-process metric objects and no ``PROMETHEUS_MULTIPROC_DIR``: every worker flushes to
the store, and a scrape of any worker reads the running totals of all of them, so counters
are exact under gunicorn with many workers and across hosts. Histogram buckets are a coarse
subset of the store's log buckets (powers of two, 1 ms to 16.384 s: each is a bucket edge of
ours, so the cumulative counts are exact), and p50/p95/p99 over the last five minutes are
gauges (a Prometheus Summary computes none across processes). Build with ``make_registry``:
an own ``CollectorRegistry``, never the global one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from turbina.errors import TurbinaError
from turbina.monitor.api import histogram_of
from turbina.queries.histogram import BUCKETS_PER_DOUBLING
from turbina.store.backends.base import StoreBackend
from turbina.store.model import ALERTS, CACHE, REQUESTS, SELF

__all__ = ["PROMETHEUS_BUCKETS_MS", "TurbinaCollector", "make_registry", "require_prometheus"]

log = logging.getLogger("turbina.monitor")
# Edges 2**k ms (k = 0..14) are the edges of our buckets with index 8k.
PROMETHEUS_BUCKETS_MS = tuple(2.0**k for k in range(15))
QUANTILE_WINDOW_S = 300.0


def require_prometheus() -> Any:
    """The ``prometheus_client`` module, or a ``TurbinaError`` naming the extra."""
    try:
        import prometheus_client
    except ImportError:
        raise TurbinaError(
            "the Prometheus endpoint needs prometheus_client", "pip install 'turbina[prometheus]'"
        ) from None
    return prometheus_client


def _cumulative(fields: dict[str, int]) -> list[tuple[str, float]]:
    counts: dict[int, int] = {}
    for name, count in fields.items():
        if name.startswith("b"):
            counts[int(name[1:])] = count
    out: list[tuple[str, float]] = []
    for k, edge in enumerate(PROMETHEUS_BUCKETS_MS):
        limit = k * BUCKETS_PER_DOUBLING
        out.append((repr(edge / 1000.0), float(sum(c for i, c in counts.items() if i <= limit))))
    out.append(("+Inf", float(sum(counts.values()))))
    return out


class TurbinaCollector:
    """Reads ``store`` on each scrape: totals for counters and histograms, the last five
    minutes for the quantile and Apdex gauges, each worker's gauges."""

    def __init__(self, store: StoreBackend) -> None:
        self.store = store

    def describe(self) -> list[Any]:
        """Nothing: registering must not read the store."""
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        up = GaugeMetricFamily("turbina_store_up", "1 when the store answered this scrape.")
        try:
            totals = self.store.totals((REQUESTS, CACHE, ALERTS, SELF))
            recent = self.store.read(time.time() - QUANTILE_WINDOW_S, kinds=(REQUESTS,), events=())
        except Exception as exc:  # a dead store: say so, and answer quickly
            log.warning("turbina: /metrics could not read the %s: %r", self.store.describe(), exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up

        requests = CounterMetricFamily(
            "turbina_http_requests",
            "Requests served, by url rule, method and status class (every worker).",
            labels=["endpoint", "method", "status_class"],
        )
        duration = HistogramMetricFamily(
            "turbina_http_request_duration_seconds",
            "Request duration including after-request handlers.",
            labels=["endpoint", "method"],
        )
        db_seconds = CounterMetricFamily(
            "turbina_http_db_seconds", "Database time of requests.", labels=["endpoint", "method"]
        )
        db_queries = CounterMetricFamily(
            "turbina_http_db_queries", "Statements sent by requests.", labels=["endpoint", "method"]
        )
        cache_lookups = CounterMetricFamily(
            "turbina_http_cache_lookups",
            "Cached-view lookups by result.",
            labels=["endpoint", "method", "result"],
        )
        for _label, info, fields in totals.of_kind(REQUESTS):
            labels = [str(info.get("endpoint", "?")), str(info.get("method", "?"))]
            for klass in range(1, 6):
                if fields.get(f"s{klass}"):
                    requests.add_metric([*labels, f"{klass}xx"], float(fields[f"s{klass}"]))
            duration.add_metric(labels, _cumulative(fields), fields.get("us", 0) / 1e6)
            db_seconds.add_metric(labels, fields.get("db_us", 0) / 1e6)
            db_queries.add_metric(labels, float(fields.get("q", 0)))
            cache_lookups.add_metric([*labels, "hit"], float(fields.get("ch", 0)))
            cache_lookups.add_metric([*labels, "miss"], float(fields.get("cm", 0)))
        yield from (requests, duration, db_seconds, db_queries, cache_lookups)

        quantiles = GaugeMetricFamily(
            "turbina_http_request_duration_window_seconds",
            "p50/p95/p99 request duration over the last five minutes (merged histograms).",
            labels=["endpoint", "method", "quantile"],
        )
        apdex = GaugeMetricFamily(
            "turbina_http_apdex", "Apdex over the last five minutes.", labels=["endpoint", "method"]
        )
        for _label, info, fields in recent.of_kind(REQUESTS):
            calls = fields.get("n", 0)
            if not calls:
                continue
            labels = [str(info.get("endpoint", "?")), str(info.get("method", "?"))]
            histogram = histogram_of(fields)
            for q in (50, 95, 99):
                quantiles.add_metric([*labels, str(q / 100)], histogram.percentile(q) / 1000.0)
            score = (fields.get("ap_s", 0) + fields.get("ap_t", 0) / 2) / calls
            apdex.add_metric(labels, score)
        yield from (quantiles, apdex)

        cache = CounterMetricFamily(
            "turbina_cache_events", "Cache events per context.", labels=["context", "event"]
        )
        for _label, info, fields in totals.of_kind(CACHE):
            for name, value in fields.items():
                cache.add_metric([str(info.get("context", "?")), name], float(value))
        yield cache

        alerts = CounterMetricFamily(
            "turbina_alerts", "Alerts raised.", labels=["endpoint", "method", "kind"]
        )
        for _label, info, fields in totals.of_kind(ALERTS):
            labels = [str(info.get(k, "?")) for k in ("endpoint", "method", "kind")]
            alerts.add_metric(labels, float(fields.get("n", 0)))
        yield alerts

        flush = CounterMetricFamily(
            "turbina_store_flushes", "Flushes into the store.", labels=["result"]
        )
        merged: dict[str, int] = {}
        for _label, _info, fields in totals.of_kind(SELF):
            for name, value in fields.items():
                merged[name] = merged.get(name, 0) + value
        flush.add_metric(["ok"], float(merged.get("flushes", 0)))
        flush.add_metric(["failed"], float(merged.get("flush_errors", 0)))
        flush.add_metric(["dropped"], float(merged.get("dropped", 0)))
        yield flush

        yield from self._workers(totals.gauges, GaugeMetricFamily)

    @staticmethod
    def _workers(gauges: dict[str, dict[str, Any]], family: Any) -> Iterator[Any]:
        plain = {
            "cpu_percent": ("turbina_process_cpu_percent", "Process CPU, % of one core."),
            "rss_bytes": ("turbina_process_resident_memory_bytes", "Resident memory."),
            "open_files": ("turbina_process_open_fds", "Open file descriptors."),
            "threads": ("turbina_process_threads", "Python threads."),
        }
        for key, (name, doc) in plain.items():
            metric = family(name, doc, labels=["worker"])
            for worker, values in sorted(gauges.items()):
                if isinstance(values.get(key), int | float):
                    metric.add_metric([worker], float(values[key]))
            yield metric
        pool = family(
            "turbina_db_pool_connections",
            "Connection pool per engine: size, checked_out, checked_in, overflow.",
            labels=["worker", "engine", "state"],
        )
        for worker, values in sorted(gauges.items()):
            for engine, stats in sorted((values.get("pools") or {}).items()):
                for state, value in sorted(stats.items()):
                    pool.add_metric([worker, engine, state], float(value))
        yield pool


def make_registry(store: StoreBackend) -> Any:
    """A fresh ``CollectorRegistry`` holding only a ``TurbinaCollector`` of ``store``."""
    prometheus_client = require_prometheus()
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(TurbinaCollector(store))
    return registry
