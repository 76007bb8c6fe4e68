"""Cache events counted for the monitor: per context for the store, per request for its endpoint.

``CacheEvents`` stands in front of a cache's counter buffer (``turbina.cache.stats.
LocalCounters``): every event goes on to it unchanged, and is also added

- to this worker's running totals per context, which the store's ``CacheSource`` sends as
  deltas whatever the backend (a shared Redis keeps every process's totals in one hash, which
  a window or a worker cannot be read from);
- for hits and misses (every cause), to the request being served: the ``RequestCacheCounts``
  the request monitor puts in a context variable for the length of the request, so an
  endpoint's hit rate counts every ``@cached`` function and cached view it called.

The request path pays a lock-free counter step per hit and one lock per other event, no
I/O. Framework-free.
"""

from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar

from turbina.cache.backends.base import MISS_CAUSES
from turbina.cache.stats import CounterBuffer

__all__ = ["CacheEvents", "RequestCacheCounts", "request_counts"]

MAX_CONTEXTS = 1000  # past it, new contexts are totalled under OTHER_CONTEXT
OTHER_CONTEXT = "<other>"
_MISSES = frozenset(MISS_CAUSES)


class RequestCacheCounts:
    """Cache hits and misses of one request."""

    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


request_counts: ContextVar[RequestCacheCounts | None] = ContextVar(
    "turbina_request_cache", default=None
)
"""The counts of the request being served (set by the request monitor; ``None`` outside)."""
_current = request_counts.get


class CacheEvents:
    """A ``CounterBuffer`` that also keeps per-context totals and per-request hits/misses."""

    def __init__(self, inner: CounterBuffer) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._totals: dict[str, dict[str, int]] = {}
        # Hits, the hot event, are counted without the lock: ``next()`` of an
        # ``itertools.count`` is one atomic C call (as the cache's own buffer does).
        self._hits: dict[str, itertools.count[int]] = {}

    def add(self, context: str, field: str, amount: int = 1) -> None:
        """Count one event (the request path: no I/O)."""
        self.inner.add(context, field, amount)
        if field == "hits" and amount == 1:
            counter = self._hits.get(context)
            if counter is None:
                with self._lock:
                    if len(self._hits) >= MAX_CONTEXTS and context not in self._hits:
                        context = OTHER_CONTEXT
                    counter = self._hits.setdefault(context, itertools.count())
            next(counter)
            counts = _current()
            if counts is not None:
                counts.hits += 1
            return
        with self._lock:
            totals = self._totals.get(context)
            if totals is None:
                if len(self._totals) >= MAX_CONTEXTS:
                    context = OTHER_CONTEXT
                totals = self._totals.setdefault(context, {})
            totals[field] = totals.get(field, 0) + amount
        if field == "hits":
            counts = _current()
            if counts is not None:
                counts.hits += amount
        elif field in _MISSES:
            counts = _current()
            if counts is not None:
                counts.misses += amount

    def flush(self) -> bool:
        """Send the inner buffer's counts to the cache's store."""
        return self.inner.flush()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The inner buffer's unsent counts."""
        return self.inner.snapshot()

    def totals(self) -> dict[str, dict[str, int]]:
        """Every event this worker counted, per context (a copy)."""
        with self._lock:
            out = {context: dict(fields) for context, fields in self._totals.items()}
            hits = list(self._hits.items())
        for context, counter in hits:
            fields = out.setdefault(context, {})
            fields["hits"] = fields.get("hits", 0) + int(repr(counter)[6:-1])  # "count(N)"
        return out

    def after_fork(self) -> None:
        """A new lock in a forked child (the totals stay: its sources start from them)."""
        self._lock = threading.Lock()
