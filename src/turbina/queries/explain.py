"""EXPLAIN for slow SELECTs, off the request path.

``ExplainWorker`` owns a bounded queue and one daemon thread. The recorder submits slow
statements; the worker runs ``EXPLAIN (FORMAT JSON)`` (PostgreSQL) or ``EXPLAIN QUERY PLAN``
(SQLite) on a connection of its own, at most once per fingerprint per interval, never with
ANALYZE and never for anything but a plain SELECT. Its SQL carries the ``/* turbina */`` tag,
so the recorder skips it. Plans are summarized and stored redacted on the stats entry.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from turbina.queries.redact import redact_text, redact_tree

log = logging.getLogger("turbina.queries")

TAG = "/* turbina */"
QUEUE_SIZE = 100
LARGE_TABLE_ROWS = 1000  # a sequential scan estimated above this many rows is flagged
SCAN_FEEDS_SORT = "full scan feeds a sort"
_SORT_NODES = frozenset({"Sort", "Incremental Sort"})
_WRITE_WORDS = frozenset(
    {
        "insert",
        "update",
        "delete",
        "merge",
        "create",
        "drop",
        "alter",
        "truncate",
        "grant",
        "revoke",
        "copy",
        "call",
        "do",
        "into",
        "lock",
    }
)


def is_explainable(fingerprint: str) -> bool:
    """True only for read-only SELECTs (``WITH`` allowed when no data-changing word appears;
    ``SELECT ... INTO`` and locking clauses are refused)."""
    words = fingerprint.replace("(", " ").replace(")", " ").split()
    if not words or words[0] not in ("select", "with"):
        return False
    if _WRITE_WORDS.intersection(words):
        return False
    return "for update" not in fingerprint and "for share" not in fingerprint


def summarize_postgres(plan: Any) -> dict[str, Any]:
    """Summary of an ``EXPLAIN (FORMAT JSON)`` result: cost, rows, scans, warnings."""
    root = plan[0]["Plan"] if isinstance(plan, list) else plan["Plan"]
    nodes: list[str] = []
    warnings: list[str] = []

    sorted_scans: list[str] = []

    def walk(node: dict[str, Any], under_sort: bool) -> None:
        kind = node.get("Node Type", "?")
        relation = node.get("Relation Name")
        nodes.append(f"{kind} on {relation}" if relation else kind)
        rows = node.get("Plan Rows", 0)
        if kind == "Seq Scan" and rows >= LARGE_TABLE_ROWS:
            warnings.append(f"sequential scan on {relation} (~{rows} rows estimated)")
            if under_sort:
                sorted_scans.append(f"{relation} (~{rows} rows)")
        if "Actual Rows" in node and rows and node["Actual Rows"] > 10 * rows:
            warnings.append(f"{kind}: actual rows {node['Actual Rows']} vs estimated {rows}")
        below_sort = under_sort or kind in _SORT_NODES
        for child in node.get("Plans", []):
            walk(child, below_sort)

    walk(root, False)
    if sorted_scans:
        warnings.append(f"{SCAN_FEEDS_SORT}: {', '.join(sorted_scans)}")
    return {
        "total_cost": root.get("Total Cost"),
        "rows": root.get("Plan Rows"),
        "nodes": nodes,
        "warnings": warnings,
        "scan_feeds_sort": bool(sorted_scans),
    }


def summarize_sqlite(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Summary of ``EXPLAIN QUERY PLAN`` rows (id, parent, notused, detail)."""
    details = [redact_text(str(row[-1])) for row in rows]
    scans = [d for d in details if d.startswith("SCAN ") and " USING " not in d]
    warnings = [f"full scan: {d}" for d in scans]
    # SQLite sorts in a temporary b-tree when no index gives the order.
    sorts = any(d.startswith("USE TEMP B-TREE FOR") for d in details)
    if scans and sorts:
        tables = ", ".join(d.removeprefix("SCAN ").removeprefix("TABLE ") for d in scans)
        warnings.append(f"{SCAN_FEEDS_SORT}: {tables}")
    return {
        "total_cost": None,
        "rows": None,
        "nodes": details,
        "warnings": warnings,
        "scan_feeds_sort": bool(scans and sorts),
    }


class ExplainWorker:
    """Background EXPLAIN for one engine. ``submit`` never blocks and never raises."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval_s: float = 300.0,
        max_tracked: int = 5000,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.max_tracked = max_tracked
        self._queue: queue.Queue[tuple[Any, str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.explained = 0
        self.dropped = 0
        self.failed = 0
        # A pool that hands one connection to every thread (``sqlite://``'s StaticPool) or a
        # different one to each (SingletonThreadPool: another in-memory database): a background
        # EXPLAIN would share — and on return roll back — the app's transaction, or see no
        # tables. Such engines are explained only on demand, in the caller's thread.
        self.shared_pool = isinstance(engine.pool, (StaticPool, SingletonThreadPool))
        self.skipped_shared_pool = 0

    def submit(self, entry: Any, statement: str, parameters: Any) -> bool:
        """Queue ``entry``'s statement for EXPLAIN; False when skipped (write, too soon, full,
        or an engine whose pool shares its connection between threads)."""
        shape = entry.fingerprint
        if not is_explainable(shape):
            return False
        if self.shared_pool:
            self.skipped_shared_pool += 1
            return False
        now = time.monotonic()
        with self._lock:
            last = self._last.get(shape)
            if last is not None and now - last < self.interval_s:
                return False
            self._last[shape] = now
            self._last.move_to_end(shape)
            while len(self._last) > self.max_tracked:
                self._last.popitem(last=False)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="turbina-explain", daemon=True
                )
                self._thread.start()
        try:
            self._queue.put_nowait((entry, statement, parameters))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued job is done (tests and CLI use this)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        """Stop the thread after the queued jobs."""
        thread = self._thread
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=1.0)
            thread.join(timeout=2.0)
            self._thread = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                entry, statement, parameters = job
                entry.plan = self.explain(statement, parameters)
                self.explained += 1
            except Exception as exc:
                self.failed += 1
                log.warning(
                    "turbina: EXPLAIN failed (%s); the statement is not retried before the interval",
                    exc.__class__.__name__,
                )
            finally:
                self._queue.task_done()

    def explain(self, statement: str, parameters: Any) -> dict[str, Any]:
        """Run the EXPLAIN now (in the calling thread) and return the redacted summary."""
        dialect = self.engine.dialect.name
        params = parameters if parameters is not None else ()
        with self.engine.connect() as conn:
            if dialect == "postgresql":
                with conn.begin():
                    conn.exec_driver_sql(f"{TAG} SET LOCAL statement_timeout = 5000")
                    raw = conn.exec_driver_sql(
                        f"{TAG} EXPLAIN (FORMAT JSON) {statement}", params
                    ).scalar()
                plan = json.loads(raw) if isinstance(raw, str) else raw
                summary = summarize_postgres(plan)
                summary["plan"] = redact_tree(plan)
            elif dialect == "sqlite":
                rows = [
                    tuple(r)
                    for r in conn.exec_driver_sql(f"{TAG} EXPLAIN QUERY PLAN {statement}", params)
                ]
                summary = summarize_sqlite(rows)
            else:
                raw_rows = conn.exec_driver_sql(f"{TAG} EXPLAIN {statement}", params).fetchall()
                summary = {
                    "total_cost": None,
                    "rows": None,
                    "warnings": [],
                    "nodes": [redact_text(" ".join(map(str, r))) for r in raw_rows],
                }
        summary["dialect"] = dialect
        summary["explained_at"] = time.time()
        return summary
