"""What a flush writes (``Batch``), what a read returns (``Reading``), and the time buckets.

Every number in the store is an integer counter added across workers and hosts: request
counts, microseconds, histogram bucket counts (``b<index>`` fields of the log-bucket
``LatencyHistogram``, so merged percentiles are exact to the bucket). Counters are keyed by
``(kind, label id)``; a label id is a short hash of the label's identifying parts and the
label's description (``labels``) travels with it, so long strings (fingerprints) are stored
once per label, not once per field. Each flush adds its counters to three resolutions: the
minute bucket (kept ``MINUTE_RETENTION_S``), the hour bucket (``HOUR_RETENTION_S``) and the
running total (``TOTAL_RETENTION_S`` after its last write) — minutes are rolled up to hours
as they are written, so no compaction job can fall behind. Framework-free.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from typing import Any

from turbina.errors import TurbinaError

MINUTE = 60
HOUR = 3600
TOTAL = 0  # the resolution of the running totals (one bucket, number 0)
MINUTE_RETENTION_S = 2 * HOUR + 5 * MINUTE
HOUR_RETENTION_S = 49 * HOUR
TOTAL_RETENTION_S = 7 * 24 * HOUR
GAUGE_RETENTION_S = 10 * MINUTE
EVENT_RETENTION_S = HOUR_RETENTION_S

# Kinds of counters.
REQUESTS = "req"  # (endpoint, method): n, s1..s5, us, db_us, q, ch, cm, ap_s, ap_t, b<i>
QUERIES = "qry"  # (engine, fingerprint): n, us, rows, b<i>
FINDINGS = "n1"  # (kind, subject, fix, endpoint): requests, loads
CACHE = "cache"  # (context,): hits, misses, stale_prevented, ...
ALERTS = "alert"  # (endpoint, kind): n
SELF = "turbina"  # (part,): flushes, flush_errors, dropped, ...
# (endpoint, method, table): r requests that read the table, w requests that wrote it, rs/ws
# the statements that did; the table <other> holds an endpoint's tables past its cap, and
# <unparsed> (r, rs) its statements sqlglot could not parse.
TABLES = "tbl"
KINDS = (REQUESTS, QUERIES, FINDINGS, CACHE, ALERTS, SELF, TABLES)
# Kinds of events (capped lists, newest first).
SLOW_EVENT = "slow"
ALERT_EVENT = "alert"
EVENT_KINDS = (SLOW_EVENT, ALERT_EVENT)
EVENTS_PER_HOUR = 200  # per kind and hour bucket

OTHER = "<other>"  # the label every value past a cardinality cap is folded into
UNPARSED = "<unparsed>"  # the table of the statements whose tables are unknown

Counters = dict[tuple[str, str], dict[str, int]]


def label_id(kind: str, parts: Iterable[Any]) -> str:
    """Stable 16-hex-digit id of a label (``kind`` and its identifying parts)."""
    text = json.dumps([kind, *parts], separators=(",", ":"), default=str)
    return blake2b(text.encode(), digest_size=8).hexdigest()


def bucket_of(at: float, resolution: int) -> int:
    """Number of the bucket of ``resolution`` seconds holding time ``at`` (0 for totals)."""
    return 0 if resolution == TOTAL else int(at // resolution)


def add_counts(into: dict[str, int], fields: Mapping[str, int]) -> None:
    """``into += fields``, field by field."""
    for name, value in fields.items():
        if value:
            into[name] = into.get(name, 0) + value


@dataclass
class Batch:
    """One flush of one worker: counter deltas, label descriptions, events and gauges."""

    at: float
    worker: str
    counters: Counters = field(default_factory=dict)
    labels: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gauges: dict[str, Any] | None = None

    def add(self, kind: str, label: str, fields: Mapping[str, int]) -> None:
        """Add ``fields`` to the counters of ``(kind, label)``."""
        add_counts(self.counters.setdefault((kind, label), {}), fields)

    def describe(self, kind: str, label: str, info: Mapping[str, Any]) -> None:
        """Set the description of a label (the last writer wins)."""
        self.labels[(kind, label)] = dict(info)

    def is_empty(self) -> bool:
        """No counters, no events, no gauges."""
        return not self.counters and not self.events and self.gauges is None

    def absorb(self, other: Batch) -> None:
        """Merge ``other`` (an older batch of the same minute) into this one."""
        for key, fields in other.counters.items():
            add_counts(self.counters.setdefault(key, {}), fields)
        for key, info in other.labels.items():
            self.labels.setdefault(key, info)
        self.events = [*self.events, *other.events]
        if self.gauges is None:
            self.gauges = other.gauges

    def size(self) -> int:
        """Number of counter fields (what a pending batch costs in memory)."""
        return sum(len(fields) for fields in self.counters.values()) + len(self.events)


@dataclass
class Reading:
    """Counters merged over every worker and host for ``[since, until]``."""

    since: float
    until: float
    resolution: int
    counters: Counters = field(default_factory=dict)
    labels: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gauges: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any], dict[str, int]]]:
        """``(label id, description, counters)`` of every label of ``kind``."""
        return [
            (label, self.labels.get((k, label), {}), fields)
            for (k, label), fields in self.counters.items()
            if k == kind
        ]

    @property
    def seconds(self) -> float:
        """Length of the window in seconds (at least one)."""
        return max(1.0, self.until - self.since)


def resolution_for(since: float, now: float) -> int:
    """Minute buckets while the window fits their retention, else hour buckets."""
    return MINUTE if now - since <= MINUTE_RETENTION_S - MINUTE else HOUR


def buckets_for(since: float, until: float, resolution: int) -> list[int]:
    """Bucket numbers of ``resolution`` that overlap ``[since, until]``."""
    if resolution == TOTAL:
        return [0]
    first, last = bucket_of(since, resolution), bucket_of(until, resolution)
    return list(range(first, last + 1))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$", re.I)
_UNITS = {"s": 1, "m": MINUTE, "min": MINUTE, "h": HOUR, "d": 24 * HOUR}
WINDOW_HELP = "a duration (5m, 1h, 24h, 90s, 2d) or a start time (2026-11-28T10:00, UTC unless it has an offset)"


def parse_window(text: str, now: float | None = None) -> float:
    """The start (epoch seconds) of the window ``text``: a duration back from ``now`` or an
    ISO start time. A ``TurbinaError`` for anything else, or a window older than the store
    keeps."""
    now = time.time() if now is None else now
    match = _DURATION.match(text or "")
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
        if seconds <= 0:
            raise TurbinaError(f"window {text!r} is empty", f"pass {WINDOW_HELP}")
        since = now - seconds
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except (ValueError, AttributeError):
            raise TurbinaError(f"window {text!r} is not a window", f"pass {WINDOW_HELP}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        since = moment.timestamp()
        if since >= now:
            raise TurbinaError(f"window start {text!r} is in the future", f"pass {WINDOW_HELP}")
    if now - since > HOUR_RETENTION_S - HOUR:
        raise TurbinaError(
            f"window {text!r} reaches past what the store keeps ({HOUR_RETENTION_S // HOUR - 1} h)",
            "pass a shorter window, e.g. 24h",
        )
    return since


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (messages end up in logs)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def finite(value: float) -> float:
    """``value``, or 0.0 for NaN/inf (JSON has neither)."""
    return value if math.isfinite(value) else 0.0
