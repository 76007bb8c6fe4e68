"""Alerts: a fixed threshold and a relative one, deduplicated per endpoint, bounded.

``Alerts.offer`` runs on the request path only for a request slower than its endpoint's
limit, and costs a dict lookup there; emitting (log records, the Flask signal, the store)
happens in the flush thread, from ``drain()``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Alert", "Alerts"]

FIXED = "slow"  # slower than TURBINA_ALERT_SLOW_MS
RELATIVE = "p99"  # slower than TURBINA_ALERT_P99_FACTOR x the endpoint's rolling p99


@dataclass(frozen=True)
class Alert:
    """One slow request that raised an alert."""

    at: float
    kind: str
    endpoint: str
    method: str
    duration_ms: float
    threshold_ms: float
    status: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    def describe(self) -> str:
        """One line for logs."""
        what = "slow request" if self.kind == FIXED else "request above the endpoint's p99"
        return (
            f"{what}: {self.method} {self.endpoint} took {self.duration_ms:.0f} ms "
            f"(threshold {self.threshold_ms:.0f} ms, status {self.status})"
        )


class Alerts:
    """At most one alert per (endpoint, method, kind) every ``dedupe_s`` seconds; the last
    ``history`` kept; ``suppressed`` counts the duplicates."""

    def __init__(
        self, *, dedupe_s: float = 300.0, history: int = 100, max_keys: int = 1000
    ) -> None:
        self.dedupe_s = dedupe_s
        self.max_keys = max_keys
        self._last: dict[tuple[str, str, str], float] = {}
        self._pending: deque[Alert] = deque(maxlen=history)
        self.history: deque[Alert] = deque(maxlen=history)
        self._lock = threading.Lock()
        self.raised = 0
        self.suppressed = 0

    def offer(self, alert: Alert) -> bool:
        """Keep ``alert`` unless one of its kind for its endpoint is younger than the dedupe
        window. True when kept."""
        key = (alert.endpoint, alert.method, alert.kind)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.dedupe_s:
                self.suppressed += 1
                return False
            if last is None and len(self._last) >= self.max_keys:
                oldest = min(self._last, key=self._last.__getitem__)
                del self._last[oldest]
            self._last[key] = now
            self._pending.append(alert)
            self.history.append(alert)
            self.raised += 1
            return True

    def drain(self) -> list[Alert]:
        """Alerts kept since the last call, oldest first."""
        with self._lock:
            found = list(self._pending)
            self._pending.clear()
        return found

    def after_fork(self) -> None:
        """Forget the parent's alerts."""
        self._lock = threading.Lock()
        self._pending.clear()
        self._last.clear()
