"""``SQLiteStore``: the embedded default — one SQLite file shared by every worker of a host.

WAL journal, so readers (the CLI, a scrape) never block the writers and the writers (one
flusher thread per worker) queue on SQLite's own lock with a busy timeout. One ``BEGIN
IMMEDIATE`` transaction per flush: counters are upserted (``value = value + excluded.value``)
into the minute, hour and total rows, events appended, gauges replaced, and what is past its
retention deleted. A connection is opened per call and closed after, so a fork (gunicorn
``--preload``) never shares one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from turbina.store.backends.base import RESOLUTIONS, StoreBackend
from turbina.store.model import (
    EVENT_RETENTION_S,
    EVENTS_PER_HOUR,
    GAUGE_RETENTION_S,
    HOUR,
    HOUR_RETENTION_S,
    MINUTE,
    MINUTE_RETENTION_S,
    TOTAL,
    TOTAL_RETENTION_S,
    Batch,
    Counters,
    bucket_of,
)

__all__ = ["SQLiteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turbina_counters (
    res INTEGER NOT NULL, bucket INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    field TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (res, bucket, kind, label, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turbina_labels (
    kind TEXT NOT NULL, label TEXT NOT NULL, info TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (kind, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turbina_events (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, hour INTEGER NOT NULL, at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turbina_events_kind_at ON turbina_events (kind, at);
CREATE TABLE IF NOT EXISTS turbina_gauges (
    worker TEXT PRIMARY KEY, at REAL NOT NULL, payload TEXT NOT NULL
);
"""

_UPSERT = (
    "INSERT INTO turbina_counters (res, bucket, kind, label, field, value) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (res, bucket, kind, label, field) DO UPDATE SET value = value + excluded.value"
)


class SQLiteStore(StoreBackend):
    """The store in the SQLite file ``path`` (created, with its folder, on first write)."""

    name = "sqlite"

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._ready = False

    def describe(self) -> str:
        return f"SQLite store {self.path}"

    @contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if not create and not self.path.exists():
            with closing(sqlite3.connect(":memory:")) as empty:  # nothing written yet
                yield empty
            return
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(
            sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        ) as conn:
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                self._prepare(conn)
                self._ready = True
            yield conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL mode and the schema, retried while another process holds the file: switching
        the journal mode (and a first look at a WAL being set up) can answer "database is
        locked" at once, without waiting out the busy timeout — as when every gunicorn worker
        flushes at the same exit."""
        deadline = time.monotonic() + self.timeout_s
        pause = 0.01
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()
                if not mode or str(mode[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

    def write(self, batches: Sequence[Batch]) -> None:
        rows: list[tuple[int, int, str, str, str, int]] = []
        labels: dict[tuple[str, str], tuple[str, float]] = {}
        events: list[tuple[str, int, float, str]] = []
        gauges: dict[str, tuple[float, str]] = {}
        for batch in batches:
            for res in RESOLUTIONS:
                bucket = bucket_of(batch.at, res)
                rows.extend(
                    (res, bucket, kind, label, name, value)
                    for (kind, label), fields in batch.counters.items()
                    for name, value in fields.items()
                )
            for key, info in batch.labels.items():
                labels[key] = (json.dumps(info, default=str), batch.at)
            for kind, payload in batch.events:
                at = float(payload.get("at", batch.at))
                events.append((kind, bucket_of(at, HOUR), at, json.dumps(payload, default=str)))
            if batch.gauges is not None:
                gauges[batch.worker] = (batch.at, json.dumps(batch.gauges, default=str))
        now = time.time()
        with self._connect(create=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, rows)
                conn.executemany(
                    "INSERT INTO turbina_labels (kind, label, info, seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, label) DO UPDATE SET info = excluded.info, "
                    "seen = excluded.seen",
                    [(k, lbl, info, seen) for (k, lbl), (info, seen) in labels.items()],
                )
                conn.executemany(
                    "INSERT INTO turbina_events (kind, hour, at, payload) VALUES (?, ?, ?, ?)",
                    events,
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO turbina_gauges (worker, at, payload) VALUES (?, ?, ?)",
                    [(w, at, payload) for w, (at, payload) in gauges.items()],
                )
                self._expire(conn, now, {(kind, hour) for kind, hour, _at, _p in events})
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _expire(conn: sqlite3.Connection, now: float, touched: set[tuple[str, int]]) -> None:
        conn.execute(
            "DELETE FROM turbina_counters WHERE res = ? AND bucket < ?",
            (MINUTE, bucket_of(now - MINUTE_RETENTION_S, MINUTE)),
        )
        conn.execute(
            "DELETE FROM turbina_counters WHERE res = ? AND bucket < ?",
            (HOUR, bucket_of(now - HOUR_RETENTION_S, HOUR)),
        )
        stale = now - TOTAL_RETENTION_S
        conn.execute(
            "DELETE FROM turbina_counters WHERE res = ? AND (kind, label) IN "
            "(SELECT kind, label FROM turbina_labels WHERE seen < ?)",
            (TOTAL, stale),
        )
        conn.execute("DELETE FROM turbina_labels WHERE seen < ?", (stale,))
        conn.execute("DELETE FROM turbina_events WHERE at < ?", (now - EVENT_RETENTION_S,))
        for kind, hour in touched:  # each kind's list per hour stays capped
            conn.execute(
                "DELETE FROM turbina_events WHERE kind = ? AND hour = ? AND id NOT IN "
                "(SELECT id FROM turbina_events WHERE kind = ? AND hour = ? "
                "ORDER BY at DESC LIMIT ?)",
                (kind, hour, kind, hour, EVENTS_PER_HOUR),
            )
        conn.execute("DELETE FROM turbina_gauges WHERE at < ?", (now - GAUGE_RETENTION_S,))

    def _has_tables(self, conn: sqlite3.Connection) -> bool:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'turbina_counters'"
        ).fetchone()
        return found is not None

    def bucket_counters(
        self, resolution: int, buckets: Sequence[int], kinds: Iterable[str]
    ) -> dict[int, Counters]:
        kinds = list(kinds)
        if not buckets or not kinds:
            return {}
        out: dict[int, Counters] = {}
        with self._connect(create=False) as conn:
            if not self._has_tables(conn):
                return {}
            marks = ",".join("?" * len(kinds))
            query = (
                "SELECT bucket, kind, label, field, value FROM turbina_counters "
                f"WHERE res = ? AND bucket BETWEEN ? AND ? AND kind IN ({marks})"
            )
            for bucket, kind, label, name, value in conn.execute(
                query, (resolution, min(buckets), max(buckets), *kinds)
            ):
                out.setdefault(bucket, {}).setdefault((kind, label), {})[name] = int(value)
        return out

    def labels(self, kinds: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        kinds = list(kinds)
        if not kinds:
            return {}
        with self._connect(create=False) as conn:
            if not self._has_tables(conn):
                return {}
            marks = ",".join("?" * len(kinds))
            rows = conn.execute(
                f"SELECT kind, label, info FROM turbina_labels WHERE kind IN ({marks})", kinds
            ).fetchall()
        return {(kind, label): json.loads(info) for kind, label, info in rows}

    def events(
        self, kinds: Iterable[str], since: float, until: float
    ) -> list[tuple[str, dict[str, Any]]]:
        kinds = list(kinds)
        if not kinds:
            return []
        with self._connect(create=False) as conn:
            if not self._has_tables(conn):
                return []
            marks = ",".join("?" * len(kinds))
            rows = conn.execute(
                "SELECT kind, payload FROM turbina_events "
                f"WHERE kind IN ({marks}) AND at BETWEEN ? AND ? ORDER BY at DESC LIMIT ?",
                (*kinds, since, until, EVENTS_PER_HOUR * 25),
            ).fetchall()
        return [(kind, json.loads(payload)) for kind, payload in rows]

    def worker_gauges(self, since: float) -> dict[str, dict[str, Any]]:
        with self._connect(create=False) as conn:
            if not self._has_tables(conn):
                return {}
            rows = conn.execute(
                "SELECT worker, at, payload FROM turbina_gauges WHERE at >= ?", (since,)
            ).fetchall()
        return {worker: dict(json.loads(payload), at=at) for worker, at, payload in rows}
