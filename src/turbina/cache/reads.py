"""What a cached computation read, seen at the cursor while it runs.

A context variable holds the ``Computation`` running in this context. The per-engine cursor
hook (``tracking.EngineTracker``) hands it every statement; with nothing running it costs one
context-variable read per query. A computation learns:

- the tables its statements name (when it records its dependencies: no ``depends_on``),
  extracted with sqlglot once per distinct statement (bounded LRU; a conservative regex over
  FROM/JOIN names if it cannot be parsed), and the engines they ran on (whose views are
  resolved to base tables afterwards);
- whether a statement ran inside a transaction whose snapshot is older than the stamps the
  computation read: a connection already in a REPEATABLE READ or SERIALIZABLE transaction
  (SQLite's transactions are serializable) when the computation first used it. Its value may
  predate a commit the stamps already show, so it must not be stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from turbina.cache.stamps import table_name

__all__ = ["Computation", "active", "computing", "current", "note_tables", "statement_tables"]

_current: ContextVar[Computation | None] = ContextVar("turbina_cache_computation", default=None)
_NAMES = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE)\s+((?:\"[^\"]+\"|`[^`]+`|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.I,
)
_DIALECTS = {
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
}
_SNAPSHOT_LEVELS = frozenset({"REPEATABLE READ", "SERIALIZABLE", "SNAPSHOT"})
_PSYCOPG2_LEVELS = {
    1: "READ COMMITTED",
    2: "REPEATABLE READ",
    3: "SERIALIZABLE",
    4: "READ UNCOMMITTED",
}
TXN_ISOLATION = "turbina.cache.isolation"  # conn.info key: level set by SQL for this transaction
_MAX_CONNECTIONS = 64


@lru_cache(maxsize=4096)
def statement_tables(statement: str, dialect: str = "") -> frozenset[str]:
    """Normalized names of the tables ``statement`` reads or writes (CTE names excluded)."""
    try:
        tree = sqlglot.parse_one(statement, read=_DIALECTS.get(dialect) or None)
    except Exception:
        tree = None
    if tree is None:
        return frozenset(table_name(m) for m in _NAMES.findall(statement))
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = {table_name(t.name) for t in tree.find_all(exp.Table) if t.name}
    return frozenset(n for n in names if n and n not in ctes)


class Computation:
    """One cached computation in progress: what it read, and whether it may be stored."""

    __slots__ = (
        "connections",
        "noted",
        "old_snapshot",
        "record",
        "rows",
        "tables",
        "trackers",
        "whole_rows",
    )

    def __init__(self, record: bool) -> None:
        self.record = record  # collect the tables statements name (no depends_on)
        self.tables: set[str] = set()  # tables the statements named (record=True)
        self.noted: set[str] = set()  # dependencies declared by nested cached calls
        self.trackers: set[Any] = set()  # EngineTrackers the statements ran on
        self.connections: set[int] = set()  # DBAPI connections already checked
        self.old_snapshot = False  # a statement read a snapshot older than the stamps
        self.rows: dict[str, set[str]] = {}  # table -> stamp tokens of the rows depended on
        self.whole_rows: set[str] = set()  # row-scoped tables named with too many rows

    def observe(self, tracker: Any, cursor: Any, statement: str, context: Any) -> None:
        """Called by the cursor hook for each statement run during the computation."""
        self.trackers.add(tracker)
        if self.record:
            self.tables.update(statement_tables(statement, tracker.dialect_name))
        dbapi = getattr(cursor, "connection", None)
        marker = id(dbapi) if dbapi is not None else id(cursor)
        if marker in self.connections or len(self.connections) >= _MAX_CONNECTIONS:
            return
        self.connections.add(marker)
        if _older_snapshot(tracker.dialect_name, dbapi, context):
            self.old_snapshot = True

    def absorb(self, inner: Computation) -> None:
        """A nested computation finished: what it depended on, this one depends on too."""
        self.tables |= inner.tables
        self.noted |= inner.noted
        self.trackers |= inner.trackers
        self.old_snapshot = self.old_snapshot or inner.old_snapshot
        self.whole_rows |= inner.whole_rows
        for table, tokens in inner.rows.items():
            if table not in self.whole_rows:
                self.rows.setdefault(table, set()).update(tokens)
        for table in self.whole_rows:
            self.rows.pop(table, None)


def _in_transaction(dbapi: Any) -> bool | None:
    """Whether the DBAPI connection is inside a transaction right now (None: cannot tell)."""
    if dbapi is None:
        return None
    info = getattr(dbapi, "info", None)
    status = getattr(info, "transaction_status", None)  # psycopg 3 and psycopg2 >= 2.8
    if status is not None:
        return int(status) != 0  # IDLE
    flag = getattr(dbapi, "in_transaction", None)  # sqlite3
    if isinstance(flag, bool):
        return flag
    return None


def isolation_of(dialect_name: str, dbapi: Any, context: Any) -> str:
    """The isolation level of the connection's current transaction, upper case, spaced."""
    if dialect_name == "sqlite":
        return "SERIALIZABLE"
    conn = getattr(context, "root_connection", None)
    info: Any = None
    try:
        info = conn.connection.info if conn is not None else None
    except Exception:
        info = None
    if info is not None:
        level = info.get(TXN_ISOLATION)
        if level:
            return str(level)
    raw = getattr(dbapi, "isolation_level", None)
    if raw is not None and hasattr(raw, "name"):  # psycopg 3: an IsolationLevel enum
        return str(raw.name).replace("_", " ").upper()
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in _PSYCOPG2_LEVELS:
        return _PSYCOPG2_LEVELS[raw]  # psycopg2's integer levels
    if isinstance(raw, str) and raw:
        return raw.replace("_", " ").upper()
    options = getattr(context, "execution_options", None) or {}
    level = options.get("isolation_level")
    if level is None and conn is not None:
        level = getattr(conn.dialect, "default_isolation_level", None)
    return str(level or "READ COMMITTED").replace("_", " ").upper()


def _older_snapshot(dialect_name: str, dbapi: Any, context: Any) -> bool:
    in_txn = _in_transaction(dbapi)
    if in_txn is False:
        return False  # this statement starts the transaction: its snapshot is newer
    return isolation_of(dialect_name, dbapi, context) in _SNAPSHOT_LEVELS


def current() -> Computation | None:
    """The computation running in this context, if any."""
    return _current.get()


def active() -> bool:
    """True inside a computation that records its dependencies (no ``depends_on``)."""
    running = _current.get()
    return running is not None and running.record


@contextmanager
def computing(record: bool) -> Iterator[Computation]:
    """Run a computation; what it read is added to an enclosing one when it ends."""
    outer = _current.get()
    running = Computation(record)
    token = _current.set(running)
    try:
        yield running
    finally:
        _current.reset(token)
        if outer is not None:
            outer.absorb(running)


def note_tables(tables: set[str] | frozenset[str]) -> None:
    """Add dependencies (a nested cached call's, a view's user) to the running computation."""
    running = _current.get()
    if running is not None:
        running.noted.update(tables)
