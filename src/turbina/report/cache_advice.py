"""Cache advice: which read endpoints to cache, with what TTL, or why not.

The model (stated in every report, ``MODEL``): reads of one cache key arrive as a Poisson
process of rate ``r`` and writes that invalidate it as an independent Poisson process of rate
``w``. An entry stored at a miss lives ``L = min(T, time to the next invalidating write)``, so
``E[L] = (1 - e^(-wT)) / w`` (``T`` when ``w = 0``); it serves ``r E[L]`` hits on average
before the next miss, and the hit rate is ``r E[L] / (1 + r E[L])``.

What the store can tell: each endpoint's read rate, the write rate of every table (the
INSERT/UPDATE/DELETE fingerprints' target table, parsed with sqlglot, calls per table), and
which tables each endpoint's requests read (``turbina.monitor.api.endpoint_tables``; the
report's inputs put them in the endpoint row as ``reads``). An endpoint not cached yet depends
on the tables it reads: ``w`` = the sum of their write rates. Without that list — a store
written before it was recorded, a snapshot, statements sqlglot could not parse, more tables
than the cap — it is assumed to depend on *every* table written in the window (``w`` = all
writes: a lower bound on its hit rate), and the finding says so. An endpoint whose URL rule
has arguments spreads its reads over several keys, which this window cannot count (the
prediction assumes one key: an upper bound there). Cached contexts are judged on their own
counters instead: hit rate and misses by cause.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from turbina.queries.tables import written_table
from turbina.report.model import Finding

__all__ = [
    "MODEL",
    "TARGET_HIT_RATE",
    "advise",
    "entry_lifetime",
    "hit_rate",
    "suggested_ttl",
    "write_rates",
]

MODEL = (
    "per key: reads Poisson(r), invalidating writes Poisson(w), entry lifetime "
    "E[L] = (1 - e^(-wT))/w for TTL T, hit rate = r E[L] / (1 + r E[L]); for an endpoint not "
    "cached yet, w = the write rates of the tables its requests read (every table written in "
    "the window when the store does not know them), and one key"
)
TARGET_HIT_RATE = 0.85  # the seed's criterion
MIN_WORTH_HIT_RATE = 0.5  # below this, a cache costs about as many misses as it saves
MIN_TTL_S, MAX_TTL_S = 60, 3600
MIN_MEAN_MS = 2.0  # an endpoint faster than this gains little from a cache lookup


def write_rates(queries: Iterable[Mapping[str, Any]], seconds: float) -> dict[str, float]:
    """Writes per second of each table, from the statement fingerprints of a window."""
    counts: dict[str, int] = {}
    for row in queries:
        table = written_table(str(row.get("fingerprint", "")))
        if table is not None:
            counts[table] = counts.get(table, 0) + int(row.get("calls") or 0)
    return {table: n / seconds for table, n in sorted(counts.items())}


def entry_lifetime(write_rate: float, ttl: float) -> float:
    """``E[min(T, Exp(w))]``: how long an entry lives, in seconds."""
    if write_rate <= 0:
        return ttl
    return (1.0 - math.exp(-write_rate * ttl)) / write_rate


def hit_rate(read_rate: float, write_rate: float, ttl: float) -> float:
    """The hit rate of one key read at ``read_rate``/s and invalidated at ``write_rate``/s."""
    served = read_rate * entry_lifetime(write_rate, ttl)
    return served / (1.0 + served)


def suggested_ttl(write_rate: float) -> int:
    """A TTL past which a longer one gains under 5 %: ``3/w`` (e^-3 = 5 % of entries still
    alive), within [60 s, 1 h]; 1 h when nothing is written."""
    if write_rate <= 0:
        return MAX_TTL_S
    return int(min(MAX_TTL_S, max(MIN_TTL_S, 3.0 / write_rate)))


def _endpoint_advice(
    row: Mapping[str, Any], seconds: float, writes: dict[str, float], per_hour: float
) -> Finding | None:
    calls = int(row["calls"])
    mean_ms = float(row["mean_ms"])
    name = f"{row['method']} {row['endpoint']}"
    if row["method"] not in ("GET", "HEAD") or mean_ms < MIN_MEAN_MS or calls < 2:
        return None
    if int(row.get("cache_hits", 0)) + int(row.get("cache_misses", 0)) > 0:
        return None  # already looks up the cache: judged by its context's counters
    errors = int(row.get("errors", 0))
    if errors * 2 > calls:
        return None
    r = calls / seconds
    reads: Mapping[str, Any] = row.get("reads") or {}
    known = "reads" in row and bool(row.get("reads_complete"))
    depends = {t: rate for t, rate in writes.items() if t in reads} if known else writes
    w = sum(depends.values())
    ttl = suggested_ttl(w)
    predicted = hit_rate(r, w, ttl)
    keyed = "<" in str(row["endpoint"])
    evidence = {
        "reads_per_s": round(r, 4),
        "writes_per_s": round(w, 4),
        "written_tables": ", ".join(depends) or "none",
        "reads_tables": ", ".join(reads) if known and reads else ("none" if known else "unknown"),
        "mean_ms": round(mean_ms, 3),
        "ttl_s": ttl,
        "predicted_hit_rate": round(predicted, 4),
    }
    notes = []
    if not known:
        why = row.get("reads_unknown") or (
            "the store records no tables for it (a store written before they were recorded)"
        )
        notes.append(
            f"assumed to depend on every table written in the window: {why}; the hit rate is "
            "a lower bound"
        )
    if keyed:
        notes.append(
            "the URL rule has arguments: reads spread over several keys, so the hit rate is "
            "an upper bound (it assumes one key)"
        )
    if predicted < MIN_WORTH_HIT_RATE:
        return Finding(
            kind="cache",
            title=f"do not cache {name} yet: predicted hit rate {predicted:.0%}",
            evidence=evidence,
            fix=(
                f"writes ({w:.3g}/s to {evidence['written_tables']}) would invalidate entries "
                f"before reads ({r:.3g}/s) reuse them; "
                + (
                    "cache it scoped() to the rows it shows, so writes to other rows leave "
                    "it valid, then measure again"
                    if known
                    else "cache it with depends_on= naming only the tables it reads, or "
                    "scoped() to the rows it shows, then measure again"
                )
            ),
            saved_ms_per_hour=0.0,
            formula=f"hit rate {predicted:.2f} < {MIN_WORTH_HIT_RATE}: no saving counted",
            where=name,
            notes=notes,
        )
    saved = predicted * mean_ms * per_hour
    if known:
        fix = (
            "cache the view, with depends_on= the tables it reads (the prediction counts "
            "the writes to those)"
        )
        tables = json.dumps(sorted(reads))  # a Python list literal of the names, quoted
    else:
        fix = (
            "cache the view, with depends_on= the tables it reads (the prediction assumes "
            "every written table: naming fewer raises it)"
        )
        tables = "[...]"
    return Finding(
        kind="cache",
        title=f"cache {name} (predicted hit rate {predicted:.0%}, TTL {ttl} s)",
        evidence=evidence,
        fix=fix,
        saved_ms_per_hour=saved,
        formula=(
            f"hit rate {predicted:.3f} x {mean_ms:.2f} ms x {per_hour:.0f} requests/h "
            f"= {saved:,.0f} ms/h"
        ),
        code=f'@turbina.cached_view("{row["endpoint"]}", depends_on={tables}, ttl={ttl})',
        where=name,
        notes=notes,
    )


_CAUSE_FIX = {
    "miss_invalidated": (
        "writes invalidate it: narrow its dependencies with scoped(Model.column, arg=...) "
        "and watch=[the columns it shows], so unrelated writes leave it valid"
    ),
    "miss_expired": "entries expire before they are reused: raise the context's TTL",
    "miss_evicted": "the store evicts entries: raise its memory cap (or Redis maxmemory)",
    "miss_first": (
        "most lookups are first sights: the key space is wide (per user, per argument); "
        "cache at a coarser grain (per_user=False for public pages, fewer key parts)"
    ),
    "miss_error": "lookups fail: check the cache store (TURBINA_REDIS_URL) and its errors",
}


def _context_advice(row: Mapping[str, Any], miss_ms: float | None, per_hour: Any) -> Finding | None:
    hits, misses = int(row.get("hits", 0)), int(row.get("misses", 0))
    lookups = hits + misses
    if not lookups:
        return None
    rate = float(row.get("hit_rate", 0.0))
    causes = {c: int(row.get(c, 0)) for c in _CAUSE_FIX}
    top = max(causes, key=lambda c: causes[c])
    evidence: dict[str, Any] = {
        "lookups": lookups,
        "hit_rate": round(rate, 4),
        "hit_rate_seen": float(row.get("hit_rate_seen", 0.0)),
        **{c: n for c, n in causes.items() if n},
    }
    name = str(row.get("context", "?"))
    if rate >= TARGET_HIT_RATE or not misses:
        return None
    avoidable = misses - causes["miss_first"] if top != "miss_first" else misses
    if miss_ms is None:
        saved, formula = 0.0, "no endpoint's time is known for its misses: not estimated"
    else:
        saved = per_hour(avoidable) * miss_ms
        formula = (
            f"{per_hour(avoidable):.0f} avoidable misses/h x {miss_ms:.2f} ms per miss "
            f"(mean time of the endpoints that missed) = {saved:,.0f} ms/h (an upper bound)"
        )
    return Finding(
        kind="cache",
        title=(
            f"cache context {name!r}: hit rate {rate:.0%} (< {TARGET_HIT_RATE:.0%}), "
            f"misses mostly {top.removeprefix('miss_')}"
        ),
        evidence=evidence,
        fix=_CAUSE_FIX[top],
        saved_ms_per_hour=saved,
        formula=formula,
        where=name,
    )


def advise(
    endpoints: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    seconds: float | None,
    per_hour: Any,
) -> list[Finding]:
    """Cache findings: one per cached context below the target, one per hot read endpoint
    not cached yet (cache it, with a TTL, or why not)."""
    found: list[Finding] = []
    missed = [e for e in endpoints if int(e.get("cache_misses", 0)) > 0]
    weight = sum(int(e["cache_misses"]) for e in missed)
    miss_ms = (
        sum(float(e["mean_ms"]) * int(e["cache_misses"]) for e in missed) / weight
        if weight
        else None
    )
    for row in contexts:
        finding = _context_advice(row, miss_ms, per_hour)
        if finding is not None:
            found.append(finding)
    if seconds:
        writes = write_rates(queries, seconds)
        for row in endpoints:
            finding = _endpoint_advice(row, seconds, writes, per_hour(int(row["calls"])))
            if finding is not None:
                found.append(finding)
    return found
