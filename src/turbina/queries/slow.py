"""Statements slow *relative to the app*, not only past a fixed threshold.

A statement is flagged when any rule holds (thresholds are ``TURBINA_SLOW_*`` settings):

- it takes at least ``share`` of the database time of every recorded statement (the app's
  heaviest statements, whatever their single duration);
- its mean is at least ``mean_ms`` over at least ``min_calls`` calls (PgHero's rule: 20 ms
  over 100 calls by default);
- its plan has a full scan feeding a sort (from the background EXPLAIN).

Works on the display-safe summaries (``QueryStats.summary()`` rows or a snapshot's
``queries``), so the CLI can flag a snapshot written by another process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SlowRules:
    """Thresholds of the three rules (defaults: the ``TURBINA_SLOW_*`` defaults)."""

    share: float = 0.2
    mean_ms: float = 20.0
    min_calls: int = 100

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (written into snapshots)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SlowRules:
        """Rules from a snapshot (defaults for anything missing or malformed)."""
        if not isinstance(data, Mapping):
            return cls()
        values: dict[str, Any] = {}
        for name, kind in (("share", float), ("mean_ms", float), ("min_calls", int)):
            value = data.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                values[name] = kind(value)
        return cls(**values)


@dataclass(frozen=True)
class SlowStatement:
    """A flagged statement: its summary row, its share of DB time and why it is flagged."""

    row: Mapping[str, Any]
    share: float
    reasons: tuple[str, ...]


def plan_scan_feeds_sort(plan: Any) -> bool:
    """True when an EXPLAIN summary says a full scan feeds a sort."""
    return isinstance(plan, Mapping) and bool(plan.get("scan_feeds_sort"))


def slow_statements(
    rows: Iterable[Mapping[str, Any]], rules: SlowRules, total_ms: float | None = None
) -> list[SlowStatement]:
    """The flagged rows, heaviest first. ``total_ms`` is the DB time of every statement
    (default: the sum over ``rows``)."""
    rows = list(rows)
    total = total_ms if total_ms is not None else sum(float(r["total_ms"]) for r in rows)
    flagged = []
    for row in rows:
        # Rows carry rounded totals; on sub-millisecond statements the rounding alone can put
        # one above the exact sum, so the share is capped at the whole.
        share = min(1.0, float(row["total_ms"]) / total) if total > 0 else 0.0
        reasons = []
        if rules.share > 0 and share >= rules.share:
            reasons.append(f"{share:.0%} of DB time")
        if row["calls"] >= rules.min_calls and row["mean_ms"] >= rules.mean_ms:
            reasons.append(f"mean {row['mean_ms']:.1f} ms over {row['calls']} calls")
        if plan_scan_feeds_sort(row.get("plan")):
            reasons.append("full scan feeds a sort")
        if reasons:
            flagged.append(SlowStatement(row, share, tuple(reasons)))
    flagged.sort(key=lambda s: s.row["total_ms"], reverse=True)
    return flagged
