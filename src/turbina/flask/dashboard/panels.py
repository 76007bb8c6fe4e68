"""What each dashboard page shows, assembled from ``turbina.monitor.api`` (framework-free).

The JSON API answers per part; a page needs a few parts at once plus judgements the API does
not make: the health line (red/amber/green and the threshold that decided it), the app-wide
latency series (the API's series is per endpoint), and one endpoint's own statements and N+1
findings. Those adapters live here, over the store's public reads, so the blueprint only
decides who may see them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from turbina.config import Settings
from turbina.monitor import api
from turbina.store.backends.base import StoreBackend
from turbina.store.model import REQUESTS, Reading, add_counts, buckets_for, resolution_for

__all__ = [
    "WINDOWS",
    "app_series",
    "cache_panel",
    "endpoint_panel",
    "health",
    "overview_panel",
    "queries_panel",
    "without_prefix",
]

# The windows a page offers: name -> seconds. Only these are accepted from a request.
WINDOWS: dict[str, int] = {"5m": 300, "1h": 3600, "24h": 86400}
GREEN, AMBER, RED, NONE = "green", "amber", "red", "none"
CACHE_GOOD, CACHE_POOR = 0.8, 0.5  # hit rate: green at or above GOOD, red below POOR
ERRORS_AMBER, ERRORS_RED = 0.01, 0.05  # 5xx share


def _line(part: str, level: str, value: str, threshold: str) -> dict[str, str]:
    return {"part": part, "level": level, "value": value, "threshold": threshold}


def health(
    settings: Settings,
    overview: dict[str, Any],
    queries: list[dict[str, Any]],
    findings: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    system: dict[str, Any],
) -> list[dict[str, str]]:
    """One line per part: its level and the threshold that decided it (PgHero's style)."""
    req = overview["requests"]
    calls = req["calls"]
    apdex_t = settings.apdex_ms
    lines = []
    if not calls:
        lines.append(_line("latency", NONE, "no requests", f"p95 ≤ {apdex_t:g} ms (Apdex T)"))
        lines.append(_line("errors", NONE, "no requests", f"5xx < {ERRORS_AMBER:.0%}"))
    else:
        p95 = req["p95_ms"]
        level = GREEN if p95 <= apdex_t else AMBER if p95 <= 4 * apdex_t else RED
        lines.append(
            _line(
                "latency",
                level,
                f"p95 {p95:g} ms",
                f"green ≤ {apdex_t:g} ms (Apdex T), amber ≤ {4 * apdex_t:g} ms",
            )
        )
        rate = req["error_rate"]
        level = GREEN if rate < ERRORS_AMBER else AMBER if rate < ERRORS_RED else RED
        lines.append(
            _line(
                "errors",
                level,
                f"{rate:.1%} 5xx",
                f"green < {ERRORS_AMBER:.0%}, amber < {ERRORS_RED:.0%}",
            )
        )
    rule = f"mean ≥ {settings.slow_mean_ms:g} ms over ≥ {settings.slow_min_calls} calls"
    slow = [q for q in queries if q["mean_ms"] >= settings.slow_mean_ms]
    proven = [q for q in slow if q["calls"] >= settings.slow_min_calls]
    level = NONE if not queries else RED if proven else AMBER if slow else GREEN
    value = (
        f"{len(proven)} slow, {len(slow) - len(proven)} with fewer calls" if slow else "none slow"
    )
    lines.append(_line("queries", level, value if queries else "no queries", rule))
    lines.append(
        _line(
            "N+1",
            AMBER if findings else GREEN,
            f"{len(findings)} finding(s)",
            f"≥ {settings.nplusone_threshold} lazy loads of one relationship in a request",
        )
    )
    looked = sum(c.get("hits", 0) + c.get("misses", 0) for c in contexts)
    hits = sum(c.get("hits", 0) for c in contexts)
    if looked:
        rate = hits / looked
        level = GREEN if rate >= CACHE_GOOD else AMBER if rate >= CACHE_POOR else RED
        value = f"{rate:.1%} hits"
    else:
        level, value = NONE, "no lookups"
    lines.append(
        _line("cache", level, value, f"green ≥ {CACHE_GOOD:.0%}, amber ≥ {CACHE_POOR:.0%}")
    )
    alerts = overview["alerts"]
    lines.append(
        _line(
            "alerts",
            RED if alerts else GREEN,
            f"{alerts} active",
            f"request > {settings.alert_slow_ms:g} ms or > {settings.alert_p99_factor:g}× p99",
        )
    )
    store = system["store"]
    bad = store["flush_errors"] + store["dropped"]
    lines.append(
        _line(
            "store",
            RED if store["dropped"] else AMBER if bad else GREEN,
            f"{store['flushes']} flushes, {store['flush_errors']} failed, {store['dropped']} dropped",
            "green: no failed flush, red: a batch dropped",
        )
    )
    return lines


def without_prefix(reading: Reading, prefix: str) -> tuple[Reading, frozenset[str]]:
    """``reading`` without the requests to URL rules under ``prefix`` (the dashboard's own
    refreshes, which the monitor times like any request), and the label ids left out."""
    dropped = frozenset(
        label
        for label, info, _fields in reading.of_kind(REQUESTS)
        if str(info.get("endpoint", "")).startswith(prefix + "/")
    )
    if not dropped:
        return reading, dropped
    kept = {
        key: f for key, f in reading.counters.items() if key[0] != REQUESTS or key[1] not in dropped
    }
    return replace(reading, counters=kept), dropped


def app_series(
    store: StoreBackend, since: float, until: float, exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Every endpoint's requests merged per bucket: calls and p50/p95 over time (one read)."""
    resolution = resolution_for(since, until)
    per_bucket = store.bucket_counters(
        resolution, buckets_for(since, until, resolution), (REQUESTS,)
    )
    points = []
    for bucket, counters in sorted(per_bucket.items()):
        merged: dict[str, int] = {}
        for (_kind, label), fields in counters.items():
            if label not in exclude:
                add_counts(merged, fields)
        if not merged.get("n"):
            continue
        histogram = api.histogram_of(merged)
        points.append(
            {
                "t": float(bucket * resolution),
                "calls": merged["n"],
                "p50_ms": round(histogram.percentile(50), 3),
                "p95_ms": round(histogram.percentile(95), 3),
            }
        )
    return {"resolution_s": resolution, "points": points}


def _cache_rows(reading: Reading, settings: Settings) -> list[dict[str, Any]]:
    rows = api.cache(reading)["contexts"]
    seen = {row["context"] for row in rows}
    # Declared contexts with no lookups yet still get a row (and an invalidate action).
    rows += [
        {"context": name, "hit_rate": 0.0} for name in settings.cache_contexts if name not in seen
    ]
    return sorted(rows, key=lambda row: str(row["context"]))


def overview_panel(
    store: StoreBackend, reading: Reading, settings: Settings, exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The Overview page: the API's overview, the health lines, tiles and latency series
    (``exclude``: request label ids left out of the series, as ``without_prefix`` left them
    out of ``reading``)."""
    data = api.overview(reading)
    queries = api.queries(reading)["queries"]
    findings = api.nplusone(reading)["findings"]
    contexts = _cache_rows(reading, settings)
    system = api.system(reading)
    hits = sum(int(c.get("hits", 0)) for c in contexts)
    looked = hits + sum(int(c.get("misses", 0)) for c in contexts)
    req = data["requests"]
    data["tiles"] = {
        "p95_ms": req["p95_ms"],
        "per_minute": req["per_minute"],
        "error_rate": req["error_rate"],
        "apdex": req["apdex"],
        "cache_hit_rate": round(hits / looked, 4) if looked else None,
        "alerts": data["alerts"],
    }
    data["health"] = health(settings, data, queries, findings, contexts, system)
    data["series"] = app_series(store, reading.since, reading.until, exclude)
    data["recent_alerts"] = api.alerts(reading)["alerts"][:10]
    return data


def endpoint_panel(
    store: StoreBackend, reading: Reading, endpoint: str, method: str
) -> dict[str, Any]:
    """One endpoint: its row, its series, the statements logged for it and its N+1 findings.

    The store keeps statement stats per fingerprint, not per endpoint; what it keeps per
    endpoint are the slow-log entries and the N+1 findings, so those are its queries."""
    rows = [
        r
        for r in api.endpoints(reading)["endpoints"]
        if r["endpoint"] == endpoint and r["method"] == method
    ]
    series = api.endpoint_series(store, endpoint, method, reading.since, reading.until)
    grouped: dict[str, dict[str, Any]] = {}
    for entry in api.slow(reading)["slow"]:
        if entry.get("endpoint") != endpoint:
            continue
        row = grouped.setdefault(
            entry["sql"],
            {
                "sql": entry["sql"],
                "engine": entry["engine"],
                "calls": 0,
                "max_ms": 0.0,
                "callsite": entry.get("callsite"),
            },
        )
        row["calls"] += 1
        row["max_ms"] = max(row["max_ms"], entry["duration_ms"])
    findings = [f for f in api.nplusone(reading)["findings"] if f.get("endpoint") == endpoint]
    return {
        "window": api.window(reading),
        "endpoint": endpoint,
        "method": method,
        "row": rows[0] if rows else None,
        "series": series,
        "slow": sorted(grouped.values(), key=lambda r: r["max_ms"], reverse=True),
        "findings": findings,
    }


def queries_panel(reading: Reading, sort: str) -> dict[str, Any]:
    """The Queries page: fingerprints ranked pt-query-digest's way (share of total time,
    calls, time per call), the slow log and the N+1 findings."""
    rows = api.queries(reading, sort=sort)["queries"]
    total = sum(r["total_ms"] for r in rows)
    for row in rows:
        row["share"] = round(row["total_ms"] / total, 4) if total else 0.0
    return {
        "window": api.window(reading),
        "sort": sort,
        "queries": rows[:100],
        "slow": api.slow(reading)["slow"][:100],
        "findings": api.nplusone(reading)["findings"],
    }


def cache_panel(reading: Reading, settings: Settings) -> dict[str, Any]:
    """The Cache page: per-context counters (every counter the cache reports, misses by
    cause among them) and hit rate."""
    return {"window": api.window(reading), "contexts": _cache_rows(reading, settings)}
