"""The report's inputs in one shape: a store window or a ``QueriesState`` snapshot.

``Facts`` holds what every finding reads — endpoints, statement fingerprints, N+1 and
repeated-statement findings, slow log entries, cache contexts — and the length of the traffic
they cover, so that every estimate can be given per hour. A store ``Reading`` knows its window;
a snapshot does not, so its span is taken from the first and last sightings it records (and
``window_s`` stays ``None`` when it records none: the estimates are then per snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turbina.monitor import api
from turbina.queries.histogram import bucket_upper
from turbina.store.model import OTHER, REQUESTS, Reading

__all__ = ["MAX_BUCKETS", "Facts", "from_reading", "from_snapshot"]

MAX_BUCKETS = 160  # histogram bars per endpoint plot


@dataclass
class Facts:
    """What the report reads, whatever the source."""

    source: str
    window_s: float | None
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    histograms: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    queries: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    cache: list[dict[str, Any]] = field(default_factory=list)
    db_total_ms: float | None = None

    def per_hour(self, count: float) -> float:
        """``count`` observed in the window, as a rate per hour (per window when unknown)."""
        return count * 3600.0 / self.window_s if self.window_s else float(count)

    @property
    def rate_unit(self) -> str:
        return "/h" if self.window_s else "/snapshot"


def _histogram_points(fields: dict[str, int]) -> list[tuple[float, int]]:
    """``(bucket upper edge ms, count)`` of a stored latency histogram, lowest first."""
    buckets = api.histogram_of(fields).buckets
    if not buckets:
        return []
    # Every bucket from the lowest to the highest (empty ones too), so a plot's x axis is
    # the log scale of the buckets; at most MAX_BUCKETS, the top ones kept.
    first, last = max(min(buckets), max(buckets) - MAX_BUCKETS + 1), max(buckets)
    return [(round(bucket_upper(i), 3), buckets.get(i, 0)) for i in range(first, last + 1)]


def from_reading(reading: Reading) -> Facts:
    """Facts of a store window (every worker, every host)."""
    facts = Facts(
        source=f"the store, {reading.seconds:.0f} s window",
        window_s=reading.seconds,
        endpoints=api.endpoints(reading)["endpoints"],
        queries=api.queries(reading)["queries"],
        findings=api.nplusone(reading)["findings"],
        slow=api.slow(reading)["slow"],
        cache=api.cache(reading)["contexts"],
    )
    facts.db_total_ms = sum(float(q["total_ms"]) for q in facts.queries)
    _add_tables(facts.endpoints, api.endpoint_tables(reading))
    for _label, info, fields in reading.of_kind(REQUESTS):
        if fields.get("n", 0) > 0:
            name = f"{info.get('method', '?')} {info.get('endpoint', '?')}"
            facts.histograms[name] = _histogram_points(fields)
    return facts


def _add_tables(endpoints: list[dict[str, Any]], tables: dict[str, Any]) -> None:
    """Put in each endpoint row the tables its requests read (``reads``: table -> share of
    its requests), whether that list is whole (``reads_complete``) and, when not, why
    (``reads_unknown``). A window without any table rows (a store written before they were
    recorded) leaves the rows as they are: the cache advice then assumes every table."""
    if not tables["endpoints"] and not tables["folded_requests"]:
        return
    per = {(row["endpoint"], row["method"]): row for row in tables["endpoints"]}
    for endpoint in endpoints:
        row = per.get((endpoint["endpoint"], endpoint["method"]))
        reads = {
            t["table"]: t["read_share"]
            for t in (row["tables"] if row else [])
            if t["reads"] and t["table"] != OTHER
        }
        endpoint["reads"] = reads
        if tables["folded_requests"]:
            endpoint["reads_complete"] = False
            endpoint["reads_unknown"] = (
                "the store's cap on (endpoint, table) rows was reached, so some rows have no "
                "endpoint"
            )
        elif row is not None and row["unparsed_requests"]:
            endpoint["reads_complete"] = False
            endpoint["reads_unknown"] = (
                f"{row['unparsed_requests']} of its requests ran statements that sqlglot "
                "could not parse"
            )
        elif row is not None and not row["complete"]:
            endpoint["reads_complete"] = False
            endpoint["reads_unknown"] = (
                "it read more tables than the caps keep (per endpoint, or the store's rows)"
            )
        else:
            # No row: its requests ran no statement that names a table.
            endpoint["reads_complete"] = True


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def from_snapshot(snapshot: dict[str, Any], name: str = "a snapshot") -> Facts:
    """Facts of a ``QueriesState.snapshot()`` dict (no endpoints, no cache: it has neither)."""
    findings = [dict(f) for f in snapshot.get("findings", []) if isinstance(f, dict)]
    slow = [dict(s) for s in snapshot.get("slow_log", []) if isinstance(s, dict)]
    moments = [
        t
        for f in findings
        for t in (_number(f.get("first_seen")), _number(f.get("last_seen")))
        if t is not None
    ] + [t for s in slow if (t := _number(s.get("at"))) is not None]
    span = (max(moments) - min(moments)) if len(moments) >= 2 else 0.0
    facts = Facts(
        source=name,
        # Shorter than a minute says little about a rate: per snapshot then.
        window_s=span if span >= 60 else None,
        queries=[dict(q) for q in snapshot.get("queries", []) if isinstance(q, dict)],
        findings=findings,
        slow=slow,
    )
    total = _number(snapshot.get("db_total_ms"))
    facts.db_total_ms = (
        total if total is not None else sum(float(q.get("total_ms") or 0) for q in facts.queries)
    )
    return facts
