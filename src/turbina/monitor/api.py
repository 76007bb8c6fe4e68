"""The JSON API of the monitor (what the dashboard and ``--json`` read), framework-free.

Each function takes a ``Reading`` (or the store, for a time series) and returns plain JSON
data whose shape is ``SCHEMA[name]`` (JSON Schema, draft 2020-12 subset; README
"Request monitor and store" documents it). Percentiles come from the merged log-bucket
histograms: within ~4.4 % of the exact value, whatever the number of workers.
"""

from __future__ import annotations

import math
from typing import Any

from turbina.cache.backends.base import DERIVED_FIELDS, derive_counters
from turbina.queries.histogram import LatencyHistogram, bucket_upper
from turbina.store.backends.base import StoreBackend
from turbina.store.model import (
    ALERT_EVENT,
    CACHE,
    FINDINGS,
    OTHER,
    QUERIES,
    REQUESTS,
    SELF,
    SLOW_EVENT,
    TABLES,
    UNPARSED,
    Reading,
    label_id,
)

__all__ = [
    "SCHEMA",
    "alerts",
    "cache",
    "endpoint_series",
    "endpoint_tables",
    "endpoints",
    "histogram_of",
    "nplusone",
    "overview",
    "queries",
    "queries_snapshot",
    "slow",
    "system",
    "window",
]


def histogram_of(fields: dict[str, int]) -> LatencyHistogram:
    """The ``LatencyHistogram`` held in a label's ``b<index>`` fields (``us`` is its sum);
    min and max are the edges of the lowest and highest buckets."""
    histogram = LatencyHistogram()
    for name, count in fields.items():
        if name.startswith("b") and count > 0:
            index = int(name[1:])
            histogram.buckets[index] = count
    histogram.count = sum(histogram.buckets.values())
    histogram.total = fields.get("us", 0) / 1000.0
    if histogram.buckets:
        histogram.min = bucket_upper(min(histogram.buckets) - 1)
        histogram.max = bucket_upper(max(histogram.buckets))
    return histogram


def _ms(value: float) -> float:
    return round(value, 3) if math.isfinite(value) else 0.0


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def window(reading: Reading) -> dict[str, Any]:
    """The window a reading covers."""
    return {
        "since": round(reading.since, 3),
        "until": round(reading.until, 3),
        "seconds": round(reading.seconds, 3),
        "resolution_s": reading.resolution,
    }


def _request_row(info: dict[str, Any], fields: dict[str, int], seconds: float) -> dict[str, Any]:
    histogram = histogram_of(fields)
    calls = fields.get("n", 0)
    errors = fields.get("s5", 0)
    total_ms = fields.get("us", 0) / 1000.0
    db_ms = fields.get("db_us", 0) / 1000.0
    satisfied, tolerating = fields.get("ap_s", 0), fields.get("ap_t", 0)
    return {
        "endpoint": str(info.get("endpoint", "?")),
        "method": str(info.get("method", "?")),
        "calls": calls,
        "per_minute": round(calls * 60.0 / seconds, 3),
        "errors": errors,
        "error_rate": _ratio(errors, calls),
        "status": {f"{k}xx": fields.get(f"s{k}", 0) for k in range(1, 6)},
        "total_ms": _ms(total_ms),
        "mean_ms": _ms(total_ms / calls) if calls else 0.0,
        "p50_ms": _ms(histogram.percentile(50)),
        "p95_ms": _ms(histogram.percentile(95)),
        "p99_ms": _ms(histogram.percentile(99)),
        "db_ms": _ms(db_ms),
        "db_share": _ratio(db_ms, total_ms),
        "queries": fields.get("q", 0),
        "queries_per_request": round(fields.get("q", 0) / calls, 3) if calls else 0.0,
        "cache_hits": fields.get("ch", 0),
        "cache_misses": fields.get("cm", 0),
        "cache_hit_rate": _ratio(fields.get("ch", 0), fields.get("ch", 0) + fields.get("cm", 0)),
        "apdex": round((satisfied + tolerating / 2) / calls, 4) if calls else 1.0,
    }


_SORTS = {
    "total": "total_ms",
    "calls": "calls",
    "p95": "p95_ms",
    "p99": "p99_ms",
    "errors": "errors",
}


def endpoints(reading: Reading, *, sort: str = "total", top: int | None = None) -> dict[str, Any]:
    """Every endpoint of the window: calls, rate, errors, p50/p95/p99, DB share, queries per
    request, cache hits/misses, Apdex."""
    rows = [
        _request_row(info, fields, reading.seconds)
        for _label, info, fields in reading.of_kind(REQUESTS)
        if fields.get("n", 0) > 0
    ]
    rows.sort(key=lambda row: (row[_SORTS[sort]], row["calls"]), reverse=True)
    return {"window": window(reading), "endpoints": rows[:top] if top else rows}


def endpoint_tables(reading: Reading) -> dict[str, Any]:
    """Per endpoint, the tables its requests read and wrote in the window, with the share of
    its requests that did. ``complete`` is false when some of its statements could not be
    parsed (``unparsed_requests``) or some of its tables were folded into ``<other>`` (past
    the per-endpoint cap, or the store's label cap); ``folded_requests`` counts rows whose
    endpoint is unknown (none from this version's monitor) — with any, no endpoint's list is
    sure to be whole."""
    calls = {
        (str(info.get("endpoint", "?")), str(info.get("method", "?"))): fields.get("n", 0)
        for _label, info, fields in reading.of_kind(REQUESTS)
    }
    per: dict[tuple[str, str], dict[str, Any]] = {}
    folded = 0
    for _label, info, fields in reading.of_kind(TABLES):
        endpoint, method = str(info.get("endpoint", OTHER)), str(info.get("method", OTHER))
        table = str(info.get("table", OTHER))
        if endpoint == OTHER and method == OTHER and table == OTHER:
            folded += fields.get("r", 0) + fields.get("w", 0)
            continue
        key = (endpoint, method)
        row = per.get(key)
        if row is None:
            row = per[key] = {
                "endpoint": endpoint,
                "method": method,
                "requests": calls.get(key, 0),
                "tables": [],
                "unparsed_requests": 0,
                "complete": True,
            }
        if table == UNPARSED:
            row["unparsed_requests"] += fields.get("r", 0)
            row["complete"] = False
            continue
        if table == OTHER:
            row["complete"] = False
        row["tables"].append(
            {
                "table": table,
                "reads": fields.get("r", 0),
                "writes": fields.get("w", 0),
                "read_statements": fields.get("rs", 0),
                "write_statements": fields.get("ws", 0),
            }
        )
    rows = []
    for row in per.values():
        whole = max([row["requests"], *(t["reads"] for t in row["tables"])])
        for entry in row["tables"]:
            entry["read_share"] = _ratio(entry["reads"], whole)
            entry["write_share"] = _ratio(entry["writes"], whole)
        row["tables"].sort(key=lambda t: (-t["reads"], -t["writes"], t["table"]))
        rows.append(row)
    rows.sort(key=lambda row: (-row["requests"], row["endpoint"], row["method"]))
    return {"window": window(reading), "endpoints": rows, "folded_requests": folded}


def overview(reading: Reading) -> dict[str, Any]:
    """The whole app in the window: one row summing every endpoint, and its heaviest ones."""
    merged: dict[str, int] = {}
    for _label, _info, fields in reading.of_kind(REQUESTS):
        for name, value in fields.items():
            merged[name] = merged.get(name, 0) + value
    row = _request_row({"endpoint": "*", "method": "*"}, merged, reading.seconds)
    for name in ("endpoint", "method", "status"):
        row.pop(name)
    table = endpoints(reading, top=5)
    return {
        "window": window(reading),
        "requests": row,
        "top_endpoints": [
            {"endpoint": r["endpoint"], "method": r["method"], "total_ms": r["total_ms"]}
            for r in table["endpoints"]
        ],
        "alerts": sum(1 for kind, _e in reading.events if kind == ALERT_EVENT),
        "workers": len(reading.gauges),
    }


def endpoint_series(
    store: StoreBackend, endpoint: str, method: str, since: float, until: float | None = None
) -> dict[str, Any]:
    """One endpoint's numbers per bucket (minutes, or hours for a long window)."""
    resolution, points = store.series(
        REQUESTS, label_id(REQUESTS, (endpoint, method)), since, until
    )
    out = []
    for start, fields in points:
        row = _request_row({}, fields, float(resolution))
        out.append(
            {
                "t": start,
                **{
                    k: row[k]
                    for k in (
                        "calls",
                        "errors",
                        "mean_ms",
                        "p50_ms",
                        "p95_ms",
                        "p99_ms",
                        "db_ms",
                        "apdex",
                    )
                },
            }
        )
    return {"endpoint": endpoint, "method": method, "resolution_s": resolution, "points": out}


def queries(reading: Reading, *, sort: str = "total", top: int | None = None) -> dict[str, Any]:
    """Statement fingerprints of the window: calls, total, mean, p50/p95/p99, rows."""
    rows: list[dict[str, Any]] = []
    for _label, info, fields in reading.of_kind(QUERIES):
        calls = fields.get("n", 0)
        if not calls:
            continue
        histogram = histogram_of(fields)
        total = fields.get("us", 0) / 1000.0
        rows.append(
            {
                "engine": str(info.get("engine", "?")),
                "fingerprint": str(info.get("fingerprint", "?")),
                "calls": calls,
                "total_ms": _ms(total),
                "mean_ms": _ms(total / calls),
                "p50_ms": _ms(histogram.percentile(50)),
                "p95_ms": _ms(histogram.percentile(95)),
                "p99_ms": _ms(histogram.percentile(99)),
                "max_ms": _ms(histogram.max),
                "rows": fields.get("rows", 0),
            }
        )
    key = {"total": "total_ms", "calls": "calls", "p95": "p95_ms", "mean": "mean_ms"}[sort]
    rows.sort(key=lambda row: row[key], reverse=True)
    return {"window": window(reading), "queries": rows[:top] if top else rows}


def nplusone(reading: Reading) -> dict[str, Any]:
    """N+1 findings of the window, most requests first, with the loader that fixes them."""
    rows = []
    for _label, info, fields in reading.of_kind(FINDINGS):
        if not fields.get("requests"):
            continue
        rows.append(
            {
                "kind": str(info.get("kind", "?")),
                "subject": str(info.get("subject", "?")),
                "fix": str(info.get("fix", "")),
                "loader": info.get("loader"),
                "endpoint": info.get("endpoint"),
                "callsite": info.get("callsite"),
                "loop": info.get("loop"),
                "query_site": info.get("query_site"),
                "requests": fields.get("requests", 0),
                "total_loads": fields.get("loads", 0),
                "max_loads": int(info.get("max_loads") or 0),
            }
        )
    rows.sort(key=lambda row: (row["requests"], row["total_loads"]), reverse=True)
    return {"window": window(reading), "findings": rows}


def alerts(reading: Reading) -> dict[str, Any]:
    """Alerts raised in the window, newest first (capped per hour by the store)."""
    rows = [dict(payload) for kind, payload in reading.events if kind == ALERT_EVENT]
    return {"window": window(reading), "alerts": rows}


def slow(reading: Reading) -> dict[str, Any]:
    """Slow statements logged in the window, newest first (redacted SQL)."""
    rows = [dict(payload) for kind, payload in reading.events if kind == SLOW_EVENT]
    return {"window": window(reading), "slow": rows}


def cache(reading: Reading) -> dict[str, Any]:
    """Cache counters per context in the window, every worker's (the fields of
    ``TurbinaCache.stats()``: hits, misses by cause, values not stored by reason, bypassed,
    lock waits, errors, bytes, and the rates derived from them)."""
    rows: list[dict[str, Any]] = []
    for _label, info, fields in reading.of_kind(CACHE):
        raw = {name: int(value) for name, value in fields.items() if name not in DERIVED_FIELDS}
        rows.append({"context": str(info.get("context", "?")), **derive_counters(raw)})
    rows.sort(key=lambda row: row["context"])
    return {"window": window(reading), "contexts": rows}


def system(reading: Reading) -> dict[str, Any]:
    """Every worker that reported recently: CPU, memory, open files, pools; and the store's
    own counters (flushes, failed flushes, dropped batches) in the window."""
    store: dict[str, int] = {}
    for _label, _info, fields in reading.of_kind(SELF):
        for name, value in fields.items():
            store[name] = store.get(name, 0) + value
    workers = [{"worker": worker, **gauges} for worker, gauges in sorted(reading.gauges.items())]
    return {
        "window": window(reading),
        "workers": workers,
        "store": {
            "flushes": store.get("flushes", 0),
            "flush_errors": store.get("flush_errors", 0),
            "dropped": store.get("dropped", 0),
        },
    }


def queries_snapshot(reading: Reading, *, slow_query_ms: float | None = None) -> dict[str, Any]:
    """The store's window in the shape of ``QueriesState.snapshot()`` (``queries``,
    ``findings``, ``slow_log``, ``slow_total``), so the commands that print a snapshot can
    print the running app's merged numbers instead."""
    found = nplusone(reading)["findings"]
    slow_rows = slow(reading)["slow"]
    db_us = sum(fields.get("us", 0) for _label, _info, fields in reading.of_kind(QUERIES))
    return {
        "slow_query_ms": slow_query_ms,
        "db_total_ms": round(db_us / 1000.0, 3),
        "queries": queries(reading)["queries"],
        "slow_total": len(slow_rows),
        "slow_log": slow_rows,
        "findings": found,
    }


# --- the documented schema ------------------------------------------------------------------
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
_WINDOW = {
    "type": "object",
    "required": ["since", "until", "seconds", "resolution_s"],
    "properties": {"since": _NUM, "until": _NUM, "seconds": _NUM, "resolution_s": _INT},
}
_REQUEST_NUMBERS = {
    "calls": _INT,
    "per_minute": _NUM,
    "errors": _INT,
    "error_rate": _NUM,
    "total_ms": _NUM,
    "mean_ms": _NUM,
    "p50_ms": _NUM,
    "p95_ms": _NUM,
    "p99_ms": _NUM,
    "db_ms": _NUM,
    "db_share": _NUM,
    "queries": _INT,
    "queries_per_request": _NUM,
    "cache_hits": _INT,
    "cache_misses": _INT,
    "cache_hit_rate": _NUM,
    "apdex": _NUM,
}
_ENDPOINT_ROW = {
    "type": "object",
    "required": ["endpoint", "method", "status", *_REQUEST_NUMBERS],
    "properties": {
        "endpoint": _STR,
        "method": _STR,
        "status": {"type": "object", "additionalProperties": _INT},
        **_REQUEST_NUMBERS,
    },
}


def _listing(key: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["window", key],
        "properties": {"window": _WINDOW, key: {"type": "array", "items": row}},
    }


SCHEMA: dict[str, dict[str, Any]] = {
    "overview": {
        "type": "object",
        "required": ["window", "requests", "top_endpoints", "alerts", "workers"],
        "properties": {
            "window": _WINDOW,
            "requests": {
                "type": "object",
                "required": list(_REQUEST_NUMBERS),
                "properties": _REQUEST_NUMBERS,
            },
            "top_endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["endpoint", "method", "total_ms"],
                    "properties": {"endpoint": _STR, "method": _STR, "total_ms": _NUM},
                },
            },
            "alerts": _INT,
            "workers": _INT,
        },
    },
    "endpoints": _listing("endpoints", _ENDPOINT_ROW),
    "endpoint_tables": {
        "type": "object",
        "required": ["window", "endpoints", "folded_requests"],
        "properties": {
            "window": _WINDOW,
            "folded_requests": _INT,
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "endpoint",
                        "method",
                        "requests",
                        "tables",
                        "unparsed_requests",
                        "complete",
                    ],
                    "properties": {
                        "endpoint": _STR,
                        "method": _STR,
                        "requests": _INT,
                        "unparsed_requests": _INT,
                        "complete": {"type": "boolean"},
                        "tables": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "table",
                                    "reads",
                                    "writes",
                                    "read_share",
                                    "write_share",
                                    "read_statements",
                                    "write_statements",
                                ],
                                "properties": {
                                    "table": _STR,
                                    "reads": _INT,
                                    "writes": _INT,
                                    "read_share": _NUM,
                                    "write_share": _NUM,
                                    "read_statements": _INT,
                                    "write_statements": _INT,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "endpoint_series": {
        "type": "object",
        "required": ["endpoint", "method", "resolution_s", "points"],
        "properties": {
            "endpoint": _STR,
            "method": _STR,
            "resolution_s": _INT,
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["t", "calls", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms"],
                    "properties": {
                        "t": _NUM,
                        "calls": _INT,
                        "errors": _INT,
                        "mean_ms": _NUM,
                        "p50_ms": _NUM,
                        "p95_ms": _NUM,
                        "p99_ms": _NUM,
                        "db_ms": _NUM,
                        "apdex": _NUM,
                    },
                },
            },
        },
    },
    "queries": _listing(
        "queries",
        {
            "type": "object",
            "required": [
                "engine",
                "fingerprint",
                "calls",
                "total_ms",
                "p50_ms",
                "p95_ms",
                "p99_ms",
            ],
            "properties": {
                "engine": _STR,
                "fingerprint": _STR,
                "calls": _INT,
                "total_ms": _NUM,
                "mean_ms": _NUM,
                "p50_ms": _NUM,
                "p95_ms": _NUM,
                "p99_ms": _NUM,
                "max_ms": _NUM,
                "rows": _INT,
            },
        },
    ),
    "nplusone": _listing(
        "findings",
        {
            "type": "object",
            "required": ["kind", "subject", "fix", "requests", "total_loads", "max_loads"],
            "properties": {
                "kind": _STR,
                "subject": _STR,
                "fix": _STR,
                "loader": _OPT_STR,
                "endpoint": _OPT_STR,
                "callsite": _OPT_STR,
                "loop": _OPT_STR,
                "query_site": _OPT_STR,
                "requests": _INT,
                "total_loads": _INT,
                "max_loads": _INT,
            },
        },
    ),
    "alerts": _listing(
        "alerts",
        {
            "type": "object",
            "required": [
                "at",
                "kind",
                "endpoint",
                "method",
                "duration_ms",
                "threshold_ms",
                "status",
            ],
            "properties": {
                "at": _NUM,
                "kind": {"enum": ["slow", "p99"]},
                "endpoint": _STR,
                "method": _STR,
                "duration_ms": _NUM,
                "threshold_ms": _NUM,
                "status": _INT,
            },
        },
    ),
    "slow": _listing(
        "slow",
        {
            "type": "object",
            "required": ["at", "engine", "sql", "duration_ms"],
            "properties": {
                "at": _NUM,
                "engine": _STR,
                "sql": _STR,
                "duration_ms": _NUM,
                "endpoint": _OPT_STR,
                "callsite": _OPT_STR,
            },
        },
    ),
    "cache": _listing(
        "contexts",
        {
            "type": "object",
            "required": ["context", "hits", "misses", "hit_rate", "hit_rate_seen"],
            "properties": {"context": _STR, "hit_rate": _NUM, "hit_rate_seen": _NUM},
            "additionalProperties": _INT,
        },
    ),
    "system": {
        "type": "object",
        "required": ["window", "workers", "store"],
        "properties": {
            "window": _WINDOW,
            "workers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["worker", "at", "pid", "cpu_percent", "pools"],
                    "properties": {
                        "worker": _STR,
                        "at": _NUM,
                        "pid": _INT,
                        "cpu_percent": _NUM,
                        "rss_bytes": {"type": ["integer", "null"]},
                        "open_files": {"type": ["integer", "null"]},
                        "threads": _INT,
                        "pools": {"type": "object"},
                    },
                },
            },
            "store": {
                "type": "object",
                "required": ["flushes", "flush_errors", "dropped"],
                "properties": {"flushes": _INT, "flush_errors": _INT, "dropped": _INT},
            },
        },
    },
}
