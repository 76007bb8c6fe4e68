"""Tables written, collected at the cursor and bumped only after the transaction commits.

Every write reaches the DBAPI cursor — ORM flushes, ORM bulk ``update()``/``delete()``, Core
``insert()/update()/delete()`` and raw SQL alike — so one ``before_cursor_execute`` listener
sees them all: a statement that does not start with SELECT has its verb and target table
parsed cheaply (regex; sqlglot for ``WITH ...`` writes). Tables are kept per DBAPI connection
until the transaction ends: the connection ``commit`` event (which fires just *before* the
DBAPI commit) moves them to this thread's "committed" list, and that list is bumped right
after the commit returns — by the Session's ``after_commit``, the pool's ``checkin`` or the
next statement, transaction or cached call in this thread, whichever comes first. A
rollback discards them. AUTOCOMMIT connections bump after each write.

A thread holding uncommitted writes (a connection with pending tables, or an ORM session
with new, dirty or deleted objects) must bypass the cache: ``has_uncommitted_writes()``.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import Pool
from sqlglot import exp

from turbina.cache.stamps import table_name

__all__ = ["WriteTracker", "shared_tracker", "written_tables"]

_PENDING = "turbina.cache.pending"  # + id of the tracker: trackers must not share state
_MAX_TABLES = 10_000
_MAX_SESSIONS = 100  # per thread
_TARGET = r"((?:\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|[\w$]+)(?:\.(?:\"[^\"]+\"|`[^`]+`|[\w$]+))?)"
_WRITE = re.compile(
    r"^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?(?:\s+ONLY)?"
    r"|DELETE\s+FROM(?:\s+ONLY)?|TRUNCATE(?:\s+TABLE)?(?:\s+ONLY)?|MERGE\s+INTO"
    r"|(?:DROP|ALTER)\s+TABLE(?:\s+IF\s+EXISTS)?)\s+" + _TARGET,
    re.I,
)
_ANY_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+" + _TARGET, re.I)
_COMMENT = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)+", re.S)


def written_tables(statement: str) -> frozenset[str]:
    """Tables a statement writes; empty for reads. Cheap for the common cases."""
    head = statement[:16].lstrip().upper()
    if head.startswith(("SELECT", "PRAGMA", "SHOW", "EXPLAIN", "SAVEPOINT", "RELEASE", "BEGIN")):
        return frozenset()
    if head.startswith(("/*", "--")):
        statement = _COMMENT.sub("", statement, count=1)
        head = statement[:16].lstrip().upper()
    match = _WRITE.match(statement)
    if match:
        return frozenset((table_name(match.group(1)),))
    if head.startswith("WITH"):
        try:
            tree = sqlglot.parse_one(statement)
            targets = [node.this for node in tree.find_all(exp.Insert, exp.Update, exp.Delete)]
            names = {
                table_name(t.name if isinstance(t, exp.Table) else t.find(exp.Table).name)
                for t in targets
                if isinstance(t, exp.Table) or (t is not None and t.find(exp.Table) is not None)
            }
            if names:
                return frozenset(names)
        except Exception:
            pass
        return frozenset(table_name(m) for m in _ANY_WRITE.findall(statement))
    return frozenset()


def _sessions_dirty(refs: list[weakref.ref[Session]]) -> bool:
    for ref in refs:
        session = ref()
        if session is not None and (session.new or session.deleted or session.dirty):
            return True
    return False


def _autocommit(conn: Any) -> bool:
    level = conn.get_execution_options().get("isolation_level") or getattr(
        conn.dialect, "isolation_level", None
    )
    return level == "AUTOCOMMIT"


class WriteTracker:
    """Collects committed table writes and hands them to ``on_commit`` (stamp bumps)."""

    def __init__(self) -> None:
        self._key = f"{_PENDING}.{id(self)}"
        self._subscribers: list[weakref.WeakMethod[Callable[[set[str]], None]]] = []
        self._subscribers_lock = threading.Lock()
        self._local = threading.local()
        self._targets: list[Any] = []
        self._engines: weakref.WeakSet[Any] = weakref.WeakSet()

    def subscribe(self, callback: Callable[[set[str]], None]) -> None:
        """Call the bound method ``callback`` with each set of committed tables. Held weakly:
        a cache that is garbage-collected stops receiving, its tracker stays harmless."""
        with self._subscribers_lock:
            self._subscribers = [ref for ref in self._subscribers if ref() is not None]
            self._subscribers.append(weakref.WeakMethod(callback))

    def _deliver(self, tables: set[str]) -> None:
        for ref in list(self._subscribers):
            callback = ref()
            if callback is not None:
                callback(tables)

    # --- thread state -----------------------------------------------------------------
    def _state(self) -> Any:
        local = self._local
        try:
            local.committed  # noqa: B018 - cheaper than hasattr on the hot path
        except AttributeError:
            local.committed = set()
            local.dirty = {}  # id(conn.info) -> conn.info with pending tables
            local.sessions = []  # weak references to this thread's sessions (a plain list:
            # checking it on every cached call must cost next to nothing)
        return local

    def flush_committed(self) -> None:
        """Bump what this thread committed and has not bumped yet."""
        state = self._state()
        if state.committed:
            tables, state.committed = state.committed, set()
            self._deliver(tables)

    def before_read(self) -> bool:
        """Flush this thread's committed bumps; True if it holds uncommitted writes (bypass)."""
        state = self._state()
        if state.committed:
            tables, state.committed = state.committed, set()
            self._deliver(tables)
        if state.dirty:
            return True
        if state.sessions:
            return _sessions_dirty(state.sessions)
        return False

    def has_uncommitted_writes(self) -> bool:
        """True if this thread holds writes that are not committed (bypass the cache)."""
        state = self._state()
        if state.dirty:
            return True
        if state.sessions:
            return _sessions_dirty(state.sessions)
        return False

    # --- engine events ----------------------------------------------------------------
    def _before_cursor_execute(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        state = self._state()
        if state.committed:
            self.flush_committed()
        tables = written_tables(statement)
        if not tables:
            return
        if _autocommit(conn):
            state.committed.update(tables)
            return
        info = conn.info
        pending = info.get(self._key)
        if pending is None:
            pending = info[self._key] = set()
        if len(pending) < _MAX_TABLES:
            pending.update(tables)
        state.dirty[id(info)] = info

    def _after_cursor_execute(self, conn: Any, *args: Any) -> None:
        if self._state().committed:
            self.flush_committed()

    def _commit(self, conn: Any, *args: Any) -> None:
        pending = conn.info.pop(self._key, None)
        state = self._state()
        state.dirty.pop(id(conn.info), None)
        if pending:
            state.committed.update(pending)

    def _rollback(self, conn: Any, *args: Any) -> None:
        conn.info.pop(self._key, None)
        self._state().dirty.pop(id(conn.info), None)

    def _checkin(self, dbapi_connection: Any, record: Any) -> None:
        # Returned to the pool without a commit: the pool's reset rolls the writes back.
        pending = record.info.pop(self._key, None) if record is not None else None
        state = self._state()
        if pending is not None and record is not None:
            state.dirty.pop(id(record.info), None)
        self.flush_committed()

    # --- session events ---------------------------------------------------------------
    def _session_seen(self, session: Session, *args: Any) -> None:
        refs = self._state().sessions
        for ref in refs:
            if ref() is session:
                break
        else:
            refs[:] = [ref for ref in refs if ref() is not None][-_MAX_SESSIONS + 1 :]
            refs.append(weakref.ref(session))
        if len(args) >= 2 and hasattr(args[1], "engine"):
            self.track_engine(args[1].engine)

    def _after_commit(self, session: Session) -> None:
        self.flush_committed()

    # --- installation -----------------------------------------------------------------
    def track_engine(self, engine: Any) -> None:
        """Listen to writes, commits and rollbacks of ``engine`` (or of every engine: ``Engine``)."""
        if engine is not Engine and engine in self._engines:
            return
        if engine is not Engine:
            self._engines.add(engine)
        pool_target = Pool if engine is Engine else engine.pool
        for name, fn, target in (
            ("before_cursor_execute", self._before_cursor_execute, engine),
            ("after_cursor_execute", self._after_cursor_execute, engine),
            ("commit", self._commit, engine),
            ("commit_twophase", self._commit, engine),
            ("rollback", self._rollback, engine),
            ("rollback_twophase", self._rollback, engine),
            ("checkin", self._checkin, pool_target),
        ):
            event.listen(target, name, fn)
            self._targets.append((target, name, fn))

    def track_sessions(self, target: Any) -> None:
        """Listen to a ``Session`` class, ``sessionmaker``, ``scoped_session`` or session."""
        if isinstance(target, scoped_session):
            target = target.session_factory
        for name, fn in (
            ("after_attach", self._session_seen),
            ("after_begin", self._session_seen),
            ("after_commit", self._after_commit),
        ):
            event.listen(target, name, fn)
            self._targets.append((target, name, fn))

    def track(self, target: Any) -> None:
        """Track an engine, a session factory, or (``None``) every engine and session."""
        if target is None:
            self.track_engine(Engine)
            self.track_sessions(Session)
        elif isinstance(target, Engine) or target is Engine:
            self.track_engine(target)
        elif isinstance(target, Session | sessionmaker | scoped_session) or (
            isinstance(target, type) and issubclass(target, Session)
        ):
            self.track_sessions(target)
        else:
            raise TypeError(
                f"cannot track writes of {type(target).__name__}: pass an Engine, a Session, "
                "a sessionmaker, a scoped_session, or None for all of them"
            )

    def close(self) -> None:
        """Remove every listener this tracker installed."""
        for target, name, fn in self._targets:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
        self._targets.clear()


_shared: list[WriteTracker] = []
_shared_lock = threading.Lock()


def shared_tracker() -> WriteTracker:
    """The process-wide tracker of every engine and session (installed once, however many
    apps or caches use it)."""
    with _shared_lock:
        if not _shared:
            tracker = WriteTracker()
            tracker.track(None)
            _shared.append(tracker)
        return _shared[0]
