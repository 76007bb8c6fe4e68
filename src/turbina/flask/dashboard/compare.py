"""Two windows side by side (before/after a deploy): per endpoint p50/p95, calls, DB share.

A window is read from the store in whole buckets (minutes, or hours when it reaches past
the minute buckets' retention), so each is aligned to its buckets first and the answer says
which span was really read; two windows that share a bucket are refused rather than counted
twice. ``preset("1h")`` is the last hour against the hour before it, split on a bucket edge.
The ratios are after / before (``None`` when the before value is zero or missing).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from turbina.errors import TurbinaError
from turbina.monitor import api
from turbina.store.backends.base import StoreBackend
from turbina.store.model import HOUR_RETENTION_S, REQUESTS, resolution_for

__all__ = ["MAX_ROWS", "Span", "compare", "parse_span", "preset"]

MAX_ROWS = 200
COMPARED = ("calls", "per_minute", "p50_ms", "p95_ms", "db_share", "error_rate")
RANGE_HELP = "two ISO times joined by a slash, e.g. 2026-12-01T09:00/2026-12-01T10:00 (UTC)"


@dataclass(frozen=True)
class Span:
    """A window ``[since, until)`` in epoch seconds, aligned to ``resolution`` buckets."""

    since: float
    until: float
    resolution: int

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "seconds": self.until - self.since,
            "resolution_s": self.resolution,
        }


def _aligned(since: float, until: float, now: float, resolution: int | None = None) -> Span:
    res = resolution or resolution_for(since, now)
    start = math.floor(since / res) * res
    end = max(math.ceil(until / res) * res, start + res)
    return Span(float(start), float(end), res)


def preset(seconds: float, now: float | None = None) -> tuple[Span, Span]:
    """(before, after): the last ``seconds`` and the same length just before it."""
    now = time.time() if now is None else now
    res = resolution_for(now - 2 * seconds, now)
    edge = math.floor((now - seconds) / res) * res
    after = Span(float(edge), float(math.ceil(now / res) * res), res)
    before = Span(float(edge - math.ceil(seconds / res) * res), float(edge), res)
    return before, after


def _moment(text: str, name: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TurbinaError(f"{name}: {text!r} is not a time", f"pass {RANGE_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_span(text: str, name: str, now: float | None = None) -> Span:
    """``since/until`` (ISO times) as an aligned span; a ``TurbinaError`` naming ``name``."""
    now = time.time() if now is None else now
    parts = text.split("/")
    if len(parts) != 2:
        raise TurbinaError(f"{name}={text!r} is not a range", f"pass {RANGE_HELP}")
    since, until = _moment(parts[0], name), _moment(parts[1], name)
    if since >= until:
        raise TurbinaError(f"{name}={text!r} ends before it starts", f"pass {RANGE_HELP}")
    if since >= now:
        raise TurbinaError(f"{name}={text!r} starts in the future", f"pass {RANGE_HELP}")
    if now - since > HOUR_RETENTION_S - 3600:
        raise TurbinaError(
            f"{name}={text!r} reaches past what the store keeps ({HOUR_RETENTION_S // 3600 - 1} h)",
            "pass a more recent range",
        )
    return _aligned(since, min(until, now), now)


def _rows(store: StoreBackend, span: Span, prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    # until - 1 ms: the bucket starting at ``until`` belongs to the next window; a window
    # still running ends now (its rate is per minute of what has passed).
    until = min(span.until - 0.001, time.time())
    reading = store.read(
        span.since, until, kinds=(REQUESTS,), events=(), resolution=span.resolution
    )
    rows = api.endpoints(reading)["endpoints"]
    return {
        (r["endpoint"], r["method"]): r for r in rows if not r["endpoint"].startswith(prefix + "/")
    }


def _ratio(after: float | None, before: float | None) -> float | None:
    if after is None or not before:
        return None
    return round(after / before, 4)


def _side(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {key: row[key] for key in COMPARED}


def compare(store: StoreBackend, before: Span, after: Span, prefix: str) -> dict[str, Any]:
    """Every endpoint seen in either window: both sides and after/before ratios."""
    if before.since < after.until and after.since < before.until:
        raise TurbinaError(
            "the two windows overlap once aligned to the store's buckets",
            "pick windows that do not share a minute (or an hour, past 2 h ago)",
        )
    old, new = _rows(store, before, prefix), _rows(store, after, prefix)
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        out.append(
            {
                "endpoint": key[0],
                "method": key[1],
                "before": _side(a),
                "after": _side(b),
                "ratio": {
                    name: _ratio(b[name] if b else None, a[name] if a else None)
                    for name in ("per_minute", "p50_ms", "p95_ms", "db_share")
                },
                "total_ms": (b or a or {}).get("total_ms", 0.0),
            }
        )
    out.sort(key=lambda row: (row["after"] is not None, row["total_ms"]), reverse=True)
    return {
        "before": before.to_json(),
        "after": after.to_json(),
        "endpoints": out[:MAX_ROWS],
    }
