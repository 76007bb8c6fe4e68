"""Per-context counters batched to the shared store, and error logging at a bounded rate.

Every event (hits, misses by cause, values not stored by reason, bypassed calls, lock waits,
errors, bytes stored) is counted in process and added to the shared counters (HINCRBY, one
pipeline for all contexts) by the background thread (``background``) about once a second,
whenever ``stats()`` is read, and at interpreter exit. So the read path never waits on the
store, an idle process still delivers its counts, and an exiting one does not lose its last
second. While the store is down the counts stay in the buffer, which is bounded by the
number of contexts times the number of fields.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from turbina.cache import background

__all__ = ["CounterBuffer", "LocalCounters", "RateLimitedLog"]

_FLUSH_INTERVAL_S = 1.0
_MAX_CONTEXTS = 1000


class CounterBuffer(Protocol):
    """What a cache counts into (``LocalCounters``)."""

    def add(self, context: str, field: str, amount: int = 1) -> None:
        """Count ``amount`` of ``field`` for ``context``."""

    def flush(self) -> bool:
        """Send what is buffered."""

    def snapshot(self) -> dict[str, dict[str, int]]:
        """What is buffered and not yet sent."""


class LocalCounters:
    """Counters waiting to be added to the shared ones."""

    def __init__(
        self,
        flush: Callable[[Mapping[str, Mapping[str, int]]], None],
        interval_s: float = _FLUSH_INTERVAL_S,
    ) -> None:
        self._flush = flush
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, int]] = {}
        # Hits, the hot event, are counted without the lock: ``next()`` of an
        # ``itertools.count`` is one atomic C call; the flush sends what moved since.
        self._hits: dict[str, itertools.count[int]] = {}
        self._hits_sent: dict[str, int] = {}
        self._next_flush = time.monotonic() + interval_s
        background.register(self.tick, self.at_exit)

    def add(self, context: str, field: str, amount: int = 1) -> None:
        """Count ``amount`` of ``field`` for ``context`` (never touches the store)."""
        if amount == 1 and field == "hits":
            counter = self._hits.get(context)
            if counter is not None:
                next(counter)
                return
            with self._lock:
                if len(self._hits) >= _MAX_CONTEXTS and context not in self._hits:
                    context = "_other"
                counter = self._hits.setdefault(context, itertools.count())
                self._hits_sent.setdefault(context, 0)
            next(counter)
            background.wake()  # the thread may be idle: have it schedule the flush
            return
        with self._lock:
            pending = self._pending
            counters = pending.get(context)
            if counters is None:
                first = not pending
                if len(pending) >= _MAX_CONTEXTS:
                    context = "_other"
                counters = pending.setdefault(context, {})
            else:
                first = False
            counters[field] = counters.get(field, 0) + amount
        if first:
            background.wake()  # the thread may be idle: have it schedule the flush

    def tick(self) -> float | None:
        """Background job: flush when due; seconds until the next flush (None: nothing)."""
        if not self._pending and not self._hits:
            return None
        now = time.monotonic()
        if now >= self._next_flush:
            self.flush()
            if not self._pending and not self._hits:
                return None
        # Lock-free hits wake nobody: while there are hit counters, look again each interval.
        return max(0.0, self._next_flush - time.monotonic())

    def _take_hits(self) -> dict[str, int]:
        """Hits counted since the last call, per context (under the lock)."""
        out: dict[str, int] = {}
        for context, counter in self._hits.items():
            total = _count_value(counter)
            moved = total - self._hits_sent[context]
            if moved:
                out[context] = moved
                self._hits_sent[context] = total
        return out

    def at_exit(self) -> None:
        """Flush the last counts when the interpreter exits."""
        self.flush()

    def flush(self) -> bool:
        """Send the buffered counts in one batch; keep them if the store fails."""
        with self._lock:
            pending, self._pending = self._pending, {}
            for context, hits in self._take_hits().items():
                counts = pending.setdefault(context, {})
                counts["hits"] = counts.get("hits", 0) + hits
            self._next_flush = time.monotonic() + self._interval_s
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
            out = {context: dict(counts) for context, counts in self._pending.items()}
            for context, counter in self._hits.items():
                unsent = _count_value(counter) - self._hits_sent[context]
                if unsent:
                    counts = out.setdefault(context, {})
                    counts["hits"] = counts.get("hits", 0) + unsent
            return out


def _count_value(counter: itertools.count[int]) -> int:
    """How many times ``next()`` was called on ``counter`` (started at 0): its repr is
    ``count(N)``, the one read-only view of its state in every Python version."""
    return int(repr(counter)[6:-1])


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
