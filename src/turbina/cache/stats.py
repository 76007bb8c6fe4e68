"""Per-context counters batched to the shared store, and error logging at a bounded rate.

Every event (hits, misses, stale reads prevented, lock waits, errors, bytes stored, oversize
values, bypassed calls) is counted in process and added to the shared counters (HINCRBY,
one pipeline for all contexts) at most once a second, and whenever ``stats()`` is read. So
the read path costs no extra round trip, and the shared numbers lag by at most about a second
per process. While the store is down the counts stay in the buffer, which is bounded by the
number of contexts times the number of fields.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

__all__ = ["LocalCounters", "RateLimitedLog"]

_FLUSH_INTERVAL_S = 1.0
_MAX_CONTEXTS = 1000


class LocalCounters:
    """Counters waiting to be added to the shared ones."""

    def __init__(self, flush: Callable[[Mapping[str, Mapping[str, int]]], None]) -> None:
        self._flush = flush
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, int]] = {}
        self._next_flush = time.monotonic() + _FLUSH_INTERVAL_S

    def add(self, context: str, field: str, amount: int = 1) -> None:
        """Count ``amount`` of ``field`` for ``context``; flush if the interval passed."""
        with self._lock:
            counters = self._pending.get(context)
            if counters is None:
                if len(self._pending) >= _MAX_CONTEXTS:
                    context = "_other"
                counters = self._pending.setdefault(context, {})
            counters[field] = counters.get(field, 0) + amount
            due = time.monotonic() >= self._next_flush
        if due:
            self.flush()

    def flush(self) -> bool:
        """Send the buffered counts in one batch; keep them if the store fails."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._next_flush = time.monotonic() + _FLUSH_INTERVAL_S
        if not pending:
            return True
        try:
            self._flush(pending)
        except Exception:
            with self._lock:
                for context, counts in pending.items():
                    merged = self._pending.setdefault(context, {})
                    for field, amount in counts.items():
                        merged[field] = merged.get(field, 0) + amount
            return False
        return True

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Counts not yet sent (added to the shared ones in ``stats()``)."""
        with self._lock:
            return {context: dict(counts) for context, counts in self._pending.items()}


class RateLimitedLog:
    """Logs one line per kind of error per interval, with how many were suppressed."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def error(self, kind: str, message: str, exc: BaseException | None = None) -> None:
        """Log ``message`` unless ``kind`` was logged less than an interval ago."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self._interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            if len(self._last) >= _MAX_CONTEXTS:
                self._last.clear()
                self._suppressed.clear()
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        extra = f" ({suppressed} similar suppressed)" if suppressed else ""
        detail = f": {exc.__class__.__name__}: {exc}" if exc is not None else ""
        self._logger.warning("turbina.cache: %s%s%s", message, detail, extra)
