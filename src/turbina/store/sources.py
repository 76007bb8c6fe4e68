"""Store sources that read the other parts' public state: queries, N+1 findings, the slow
log, cache counters. Each keeps what it sent last and adds only the difference.

They run in the flush thread, never on a request. Only redacted text leaves: fingerprints
(literals are ``?``), relationship names, fixes, call sites — never a raw statement, its
parameters, or an EXPLAIN plan (plans can show literal values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from turbina.store.labels import LabelCap
from turbina.store.model import CACHE, FINDINGS, OTHER, QUERIES, SLOW_EVENT, Batch

if TYPE_CHECKING:
    from turbina.monitor.cache_events import CacheEvents
    from turbina.queries.state import QueriesState

__all__ = ["CacheSource", "FindingsSource", "QueriesSource", "SlowLogSource"]

MAX_TEXT = 2000  # characters of a fingerprint kept in the store
SLOW_PER_FLUSH = 50
MAX_CACHE_FIELDS = 40


def clip(text: str | None, width: int = MAX_TEXT) -> str | None:
    """``text`` cut to ``width`` characters."""
    if text is None or len(text) <= width:
        return text
    return text[: width - 3] + "..."


class QueriesSource:
    """Per (engine, fingerprint): calls, µs, rows and histogram buckets since the last flush."""

    def __init__(self, state: QueriesState, cap: LabelCap) -> None:
        self.state = state
        self.cap = cap
        # (engine, fingerprint) -> (entry, calls, buckets, µs, rows) as last sent
        self._sent: dict[tuple[str, str], tuple[Any, int, dict[int, int], int, int]] = {}

    def collect(self, batch: Batch) -> None:
        sent, now_sent = self._sent, {}
        for engine, recorder in list(self.state.recorders.items()):
            for entry in recorder.stats:  # a copy taken under the table's lock
                key = (engine, entry.fingerprint)
                calls = entry.calls
                last = sent.get(key)
                if last is not None and last[0] is entry and last[1] == calls:
                    now_sent[key] = last
                    continue
                buckets = dict(entry.histogram.buckets)
                us, rows = round(entry.total_ms * 1000), entry.rows
                if last is None or last[0] is not entry:  # new, or evicted and seen again
                    last = (entry, 0, {}, 0, 0)
                before = last[2]
                fields = {f"b{i}": c - before.get(i, 0) for i, c in buckets.items()}
                fields = {name: count for name, count in fields.items() if count > 0}
                count = sum(fields.values())
                now_sent[key] = (entry, calls, buckets, us, rows)
                if not count:
                    continue
                label, folded = self.cap.id_for(QUERIES, key)
                fields.update(n=count, us=max(0, us - last[3]), rows=max(0, rows - last[4]))
                batch.add(QUERIES, label, fields)
                batch.describe(
                    QUERIES,
                    label,
                    {"engine": engine, "fingerprint": OTHER}
                    if folded
                    else {"engine": engine, "fingerprint": clip(entry.fingerprint)},
                )
        self._sent = now_sent


class FindingsSource:
    """Per N+1 finding: requests and lazy loads since the last flush, and its description."""

    def __init__(self, state: QueriesState, cap: LabelCap) -> None:
        self.state = state
        self.cap = cap
        self._sent: dict[tuple[Any, ...], tuple[Any, int, int]] = {}

    def collect(self, batch: Batch) -> None:
        sent, now_sent = self._sent, {}
        for seen in self.state.findings.all():
            finding = seen.finding
            key = tuple(str(part) for part in finding.key)
            last = sent.get(key)
            if last is None or last[0] is not seen:
                last = (seen, 0, 0)
            requests, loads = seen.requests, seen.total_loads
            now_sent[key] = (seen, requests, loads)
            if requests <= last[1]:
                continue
            label, folded = self.cap.id_for(FINDINGS, key)
            batch.add(FINDINGS, label, {"requests": requests - last[1], "loads": loads - last[2]})
            info = {
                "kind": finding.kind,
                "subject": clip(finding.subject),
                "fix": clip(finding.fix),
                "loader": finding.loader,
                "endpoint": finding.endpoint,
                "callsite": finding.callsite,
                "loop": finding.loop,
                "query_site": finding.query_site,
                "max_loads": seen.max_loads,
            }
            batch.describe(FINDINGS, label, {"kind": OTHER, "subject": OTHER} if folded else info)
        self._sent = now_sent


class SlowLogSource:
    """Slow queries logged since the last flush (at most ``SLOW_PER_FLUSH`` each time)."""

    def __init__(self, state: QueriesState) -> None:
        self.state = state
        self._total = state.slow_log.total

    def collect(self, batch: Batch) -> None:
        log = self.state.slow_log
        total = log.total
        new = total - self._total
        self._total = total
        if new <= 0:
            return
        for entry in log.entries()[: min(new, SLOW_PER_FLUSH)]:
            batch.events.append(
                (
                    SLOW_EVENT,
                    {
                        "at": entry.at,
                        "engine": entry.engine,
                        "sql": clip(entry.sql),
                        "duration_ms": round(entry.duration_ms, 3),
                        "endpoint": entry.endpoint,
                        "callsite": entry.callsite,
                    },
                )
            )


class CacheSource:
    """Per cache context: the growth of this worker's event totals since the last flush.

    The totals are the worker's own (``turbina.monitor.cache_events.CacheEvents``), whatever
    the cache's backend, so the store adds them up across workers and hosts and can answer
    for a window — a shared Redis backend keeps only every process's running totals.
    """

    def __init__(self, events: CacheEvents, cap: LabelCap) -> None:
        self.events = events
        self.cap = cap
        self._sent: dict[str, dict[str, int]] = {}

    def collect(self, batch: Batch) -> None:
        for context, current in self.events.totals().items():
            if len(current) > MAX_CACHE_FIELDS:
                current = dict(sorted(current.items())[:MAX_CACHE_FIELDS])
            last = self._sent.get(context, {})
            delta = {f: v - last.get(f, 0) for f, v in current.items() if v > last.get(f, 0)}
            self._sent[context] = current  # contexts are capped by CacheEvents
            if delta:
                label, folded = self.cap.id_for(CACHE, (context,))
                batch.add(CACHE, label, delta)
                batch.describe(CACHE, label, {"context": OTHER if folded else context})

    def after_fork(self) -> None:
        """In a forked child, what the parent counted is not the child's to send."""
        self.events.after_fork()
        self._sent = self.events.totals()
