"""Write tracking: the tables each transaction writes, bumped when its commit returns.

One ``EngineTracker`` per engine the cache is given, nothing on SQLAlchemy's classes:

- **The cursor hook.** Every statement (ORM flush, bulk, Core, ``text()``, driver SQL) goes
  through the dialect's ``do_execute*`` methods. When the engine has a ``QueryRecorder`` the
  tracker subscribes to the recorder's wrapper of those methods (one wrapper, shared); else it
  wraps them itself. Per statement it costs one memo lookup (``statements.effect_of``) and a
  context-variable read (``reads``); only writes do more.
- **Pending writes per connection.** A write adds its tables — foreign-key actions and view
  base tables included (``relations``) — to the DBAPI connection's ``info`` until its
  transaction ends; this thread is marked as holding uncommitted writes (it bypasses the
  cache: it must read its own writes).
- **The commit.** The tracker wraps the dialect's ``do_commit`` / ``do_commit_twophase`` —
  every commit path calls them (``Session.commit()``, ``Connection.commit()`` with the
  connection left open, ``engine.begin()``, two-phase, the pool's reset-on-return) — and
  bumps right after the DBAPI commit returns, before ``commit()`` returns to the caller. A
  commit that raised is bumped too (its outcome is unknown). ``do_rollback*`` (including the
  pool's reset on check-in) discards the pending tables. A write on a connection that is not
  inside a transaction once it ran (AUTOCOMMIT, driver autocommit) is bumped at once, and so
  is a ``COMMIT`` sent as SQL text.

Wrapping chains safely: the tracker calls whatever the attribute held before it (another
library's wrapper included), and on removal restores it only if its own wrapper is still the
outermost; otherwise its wrapper stays in place and passes calls straight through.

Not covered (the README's freshness contract): ``engine.raw_connection()`` / DBAPI cursors
used directly, engines the cache was not given, triggers and functions that write other
tables, and writes by other programs (see the PostgreSQL trigger bridge).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, scoped_session, sessionmaker

from turbina.cache import reads, statements
from turbina.cache.relations import Relations
from turbina.cache.scopes import (
    TOKEN_MARK,
    flush_begins,
    flush_knows,
    scope_token,
    scope_variants,
    scoped_columns,
    unknown_rows_token,
    watch_token,
)
from turbina.cache.stamps import table_name
from turbina.cache.statements import NO_EFFECT, Effect, effect_of

__all__ = [
    "ALL_TABLES",
    "EngineTracker",
    "SessionWatcher",
    "thread_has_uncommitted_writes",
]

log = logging.getLogger("turbina.cache")

ALL_TABLES = "*"  # in a set of committed tables: the writes are unknown, bump everything
_PENDING = "turbina.cache.pending"  # conn.info key: tables written in the open transaction
_ATTR = "_turbina_cache_tracker"  # the dialect's EngineTracker
_MAX_TABLES = 10_000
_MAX_SESSIONS = 100  # weak references kept per thread
_CURSOR = ("do_execute", "do_execute_no_params", "do_executemany")


class _ThreadState(threading.local):
    # A class-level default: reading it in a thread that never wrote raises nothing.
    dirty: dict[int, Any] | None = None


_local = _ThreadState()

CursorHook = Callable[[Any, str, Any, Any], Callable[[], None] | None]


def _dirty() -> dict[int, Any]:
    dirty = _local.dirty
    if dirty is None:
        dirty = _local.dirty = {}
    return dirty


def thread_has_uncommitted_writes() -> bool:
    """True if this thread wrote through a tracked engine and has not committed yet."""
    dirty = _local.dirty
    if not dirty:
        return False
    for key, info in list(dirty.items()):
        if info.get(_PENDING):
            return True
        del dirty[key]  # committed or rolled back by another thread, or the connection died
    return False


def _in_transaction(dbapi: Any) -> bool | None:
    return reads._in_transaction(dbapi)


def _autocommit(context: Any) -> bool:
    """SQLAlchemy's own view (for drivers that do not say whether a transaction is open)."""
    conn = getattr(context, "root_connection", None)
    options = getattr(context, "execution_options", None) or {}
    level = options.get("isolation_level")
    if level is None and conn is not None:
        level = getattr(conn.dialect, "_on_connect_isolation_level", None)
    return level == "AUTOCOMMIT"


class _Wrapped:
    """One method of a dialect instance, wrapped so that removal never breaks a chain."""

    __slots__ = ("active", "dialect", "had_own", "name", "next", "wrapper")

    def __init__(
        self, dialect: Any, name: str, make: Callable[[Callable[..., Any], _Wrapped], Any]
    ) -> None:
        self.dialect = dialect
        self.name = name
        self.had_own = name in dialect.__dict__
        self.next = getattr(dialect, name)
        self.active = True
        self.wrapper = make(self.next, self)
        setattr(dialect, name, self.wrapper)

    def remove(self) -> None:
        """Restore what was there, if nobody wrapped over us; else become a pass-through."""
        self.active = False
        if self.dialect.__dict__.get(self.name) is self.wrapper:
            if self.had_own:
                setattr(self.dialect, self.name, self.next)
            else:
                del self.dialect.__dict__[self.name]


class EngineTracker:
    """The cache's hook on one engine: pending writes per connection, bumps at commit."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.dialect_name: str = engine.dialect.name
        self.relations = Relations()
        self._subscribers: list[weakref.WeakMethod[Callable[[set[str]], None]]] = []
        self._lock = threading.Lock()
        self._cursor: list[_Wrapped] = []
        self._transaction: list[_Wrapped] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._hook: list[CursorHook | None] = [None]
        self.before_statement = self._make_hook()

    # --- installation -------------------------------------------------------------------
    @classmethod
    def of(cls, engine: Any) -> EngineTracker | None:
        """The tracker installed on ``engine``, if any."""
        found: EngineTracker | None = engine.dialect.__dict__.get(_ATTR)
        return found

    @classmethod
    def attach(cls, engine: Any, subscriber: Callable[[set[str]], None]) -> EngineTracker:
        """The engine's tracker (installed on first use) with ``subscriber`` (a bound method,
        held weakly) receiving each set of committed tables."""
        tracker = cls.of(engine)
        if tracker is None:
            tracker = cls(engine)
            tracker._install()
            engine.dialect.__dict__[_ATTR] = tracker
        tracker._add(subscriber)
        return tracker

    def _add(self, subscriber: Callable[[set[str]], None]) -> None:
        with self._lock:
            self._subscribers = [r for r in self._subscribers if r() is not None]
            if not any(r() == subscriber for r in self._subscribers):
                self._subscribers.append(weakref.WeakMethod(subscriber))

    def detach(self, subscriber: Callable[[set[str]], None]) -> None:
        """Stop delivering to ``subscriber``; with no subscriber left, uninstall entirely."""
        with self._lock:
            self._subscribers = [
                r for r in self._subscribers if r() is not None and r() != subscriber
            ]
            empty = not self._subscribers
        if empty:
            self._uninstall()

    def _install(self) -> None:
        self._hook[0] = self.before_statement
        recorder = getattr(self.dialect, "_turbina_recorder", None)
        subscribe = getattr(recorder, "subscribe", None)
        if subscribe is not None:
            self._unsubscribe = subscribe(self.before_statement, on_close=self._recorder_closed)
        else:
            self._wrap_cursor()
        dialect = self.dialect
        self._transaction = [
            _Wrapped(dialect, "do_commit", self._make_commit),
            _Wrapped(dialect, "do_rollback", self._make_rollback),
            _Wrapped(dialect, "do_commit_twophase", self._make_commit_twophase),
            _Wrapped(dialect, "do_rollback_twophase", self._make_rollback_twophase),
        ]

    def _uninstall(self) -> None:
        if self.dialect.__dict__.get(_ATTR) is self:
            del self.dialect.__dict__[_ATTR]
        self._hook[0] = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for wrapped in (*self._cursor, *self._transaction):
            wrapped.remove()
        self._cursor, self._transaction = [], []

    def _recorder_closed(self) -> None:
        # The recorder's wrapper (and our subscription with it) is gone: wrap the cursor
        # methods ourselves so that writes stay tracked.
        self._unsubscribe = None
        if self._hook[0] is not None:
            self._wrap_cursor()

    def _wrap_cursor(self) -> None:
        hook = self._hook

        def make_execute(call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
            def do_execute(
                cursor: Any, statement: str, parameters: Any, context: Any = None
            ) -> Any:
                before = hook[0] if wrapped.active else None
                after = before(cursor, statement, parameters, context) if before else None
                try:
                    return call_next(cursor, statement, parameters, context)
                finally:
                    if after is not None:
                        after()

            return do_execute

        def make_no_params(call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
            def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> Any:
                before = hook[0] if wrapped.active else None
                after = before(cursor, statement, None, context) if before else None
                try:
                    return call_next(cursor, statement, context)
                finally:
                    if after is not None:
                        after()

            return do_execute_no_params

        self._cursor = [
            _Wrapped(self.dialect, "do_execute", make_execute),
            _Wrapped(self.dialect, "do_execute_no_params", make_no_params),
            _Wrapped(self.dialect, "do_executemany", make_execute),
        ]

    # --- the cursor hook ----------------------------------------------------------------
    def _make_hook(self) -> CursorHook:
        """The per-statement hook, a closure over local names (it runs for every query)."""
        current = reads._current.get
        memo = statements._memo.get  # cleared in place when full: the bound method stays valid
        classify = effect_of
        no_effect = NO_EFFECT
        on_effect = self._effect

        def before_statement(
            cursor: Any, statement: str, parameters: Any, context: Any
        ) -> Callable[[], None] | None:
            """Called before every statement: record reads, note writes. Never raises."""
            try:
                running = current()
                if running is not None:
                    running.observe(self, cursor, statement, context)
                effect = memo(statement)
                if effect is None:
                    effect = classify(statement)
                if effect is no_effect:
                    return None
                return on_effect(cursor, effect, context)
            except Exception:
                log.exception("turbina.cache: write tracking failed; the statement went on")
                return None

        return before_statement

    def _effect(self, cursor: Any, effect: Effect, context: Any) -> Callable[[], None] | None:
        info = _info_of_context(context)
        if info is None:
            return None
        if effect.schema:
            self.relations.mark_stale()
        if effect.isolation:
            info[reads.TXN_ISOLATION] = effect.isolation
        if effect.tables or effect.unknown:
            tables = self.relations.written(effect) if effect.tables else set()
            for name in list(tables):
                if scoped_columns(name) and not (name in effect.tables and flush_knows(name)):
                    # Rows this write touches are not known: every scoped entry of the table.
                    tables.add(TOKEN_MARK + unknown_rows_token(name))
            if effect.unknown:
                tables.add(ALL_TABLES)
            pending = info.get(_PENDING)
            if pending is None:
                pending = info[_PENDING] = set()
            if len(pending) + len(tables) > _MAX_TABLES:
                pending.add(ALL_TABLES)
            else:
                pending.update(tables)
            _dirty()[id(info)] = info

            def after_write() -> None:
                # Committed already (AUTOCOMMIT, driver autocommit): bump now.
                in_txn = _in_transaction(getattr(cursor, "connection", None))
                if in_txn is False or (in_txn is None and _autocommit(context)):
                    self._ended(info, committed=True)

            return after_write
        if effect.ends:

            def after_end() -> None:
                if _in_transaction(getattr(cursor, "connection", None)) is not True:
                    self._ended(info, committed=effect.ends == "commit")

            return after_end
        return None

    # --- transaction ends ---------------------------------------------------------------
    def _make_commit(self, call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
        def do_commit(dbapi_connection: Any) -> Any:
            try:
                return call_next(dbapi_connection)
            finally:
                if wrapped.active:
                    self._ended(_info_of(dbapi_connection), committed=True)

        return do_commit

    def _make_rollback(self, call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
        def do_rollback(dbapi_connection: Any) -> Any:
            try:
                return call_next(dbapi_connection)
            finally:
                if wrapped.active:
                    self._ended(_info_of(dbapi_connection), committed=False)

        return do_rollback

    def _make_commit_twophase(self, call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
        def do_commit_twophase(connection: Any, xid: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return call_next(connection, xid, *args, **kwargs)
            finally:
                if wrapped.active:
                    recover = kwargs.get("recover", args[1] if len(args) > 1 else False)
                    if recover:  # a transaction prepared elsewhere: its writes are unknown
                        self._deliver({ALL_TABLES})
                    self._ended(_info_of(getattr(connection, "connection", None)), True)

        return do_commit_twophase

    def _make_rollback_twophase(self, call_next: Callable[..., Any], wrapped: _Wrapped) -> Any:
        def do_rollback_twophase(connection: Any, xid: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return call_next(connection, xid, *args, **kwargs)
            finally:
                if wrapped.active:
                    self._ended(_info_of(getattr(connection, "connection", None)), False)

        return do_rollback_twophase

    def _ended(self, info: Any, committed: bool) -> None:
        if info is None:
            return
        try:
            pending = info.pop(_PENDING, None)
            info.pop(reads.TXN_ISOLATION, None)
            dirty = _local.dirty
            if dirty:
                dirty.pop(id(info), None)
            if pending and committed:
                self._deliver(pending)
        except Exception:
            log.exception("turbina.cache: could not hand committed tables to the cache")

    def _deliver(self, tables: set[str]) -> None:
        for ref in list(self._subscribers):
            callback = ref()
            if callback is not None:
                try:
                    callback(tables)
                except Exception:
                    log.exception("turbina.cache: a stamp bump raised")


def _info_of(connection: Any) -> Any:
    """``info`` of a pool connection (the ``ConnectionRecord``'s: it outlives checkouts)."""
    try:
        return connection.info if connection is not None else None
    except Exception:
        return None


def _info_of_context(context: Any) -> Any:
    conn = getattr(context, "root_connection", None)
    if conn is None:
        return None
    try:
        return conn.connection.info
    except Exception:
        return None


class SessionWatcher:
    """Whether this thread's sessions hold unflushed or flushed-but-uncommitted changes.

    A ``scoped_session`` (Flask-SQLAlchemy's ``db.session``) is probed directly — its
    registry knows this scope's session — so nothing is installed. A ``sessionmaker`` or a
    ``Session`` subclass gets ``after_attach``/``after_begin`` listeners on that target only,
    which remember (weakly) the sessions this thread used.
    """

    def __init__(self, target: Any) -> None:
        self.target = target
        self._local = threading.local()
        self._listening: list[tuple[Any, str, Callable[..., None]]] = []
        self._registry: Any = None
        self._flush_target: Any = None
        if isinstance(target, scoped_session):
            self._registry = target.registry
        elif isinstance(target, sessionmaker) or (
            isinstance(target, type) and issubclass(target, Session) and target is not Session
        ):
            from sqlalchemy import event

            for name in ("after_attach", "after_begin"):
                event.listen(target, name, self._seen)
                self._listening.append((target, name, self._seen))
        else:
            raise TypeError(
                f"cannot watch sessions of {target!r}: pass a scoped_session (db.session), a "
                "sessionmaker or a Session subclass of your own (never SQLAlchemy's Session)"
            )

    def listen_to_flushes(self) -> None:
        """Report the scope values of the rows each flush writes (installed only once some
        cached function declares a scope: ``scopes``)."""
        if self._flush_target is not None:
            return
        from sqlalchemy import event

        target = (
            self.target.session_factory if isinstance(self.target, scoped_session) else self.target
        )
        self._flush_target = target
        for name, fn in (("before_flush", self._before_flush), ("after_flush", self._after_flush)):
            event.listen(target, name, fn)
            self._listening.append((target, name, fn))

    def _before_flush(self, session: Session, *args: Any) -> None:
        tables = set()
        for obj in (*session.new, *session.dirty, *session.deleted):
            for table in _mapper_tables(obj):
                if scoped_columns(table):
                    tables.add(table)
        flush_begins(session, frozenset(tables))

    def _after_flush(self, session: Session, flush_context: Any) -> None:
        # Every state the unit of work wrote (orphans deleted by the flush included), with
        # the old and new values of the scoped columns: attribute history is still there.
        try:
            per_connection: dict[int, tuple[Any, set[str]]] = {}
            new = {id(obj) for obj in session.new}  # still the pre-flush lists here
            for state, (isdelete, listonly) in list(flush_context.states.items()):
                if listonly:
                    continue
                mapper = state.mapper
                whole_row = bool(isdelete) or id(state.obj()) in new
                tokens = _scope_tokens(state, mapper, whole_row)
                if not tokens:
                    continue
                conn = session.connection(bind_arguments={"mapper": mapper})
                info = conn.connection.info
                entry = per_connection.setdefault(id(info), (info, set()))
                entry[1].update(tokens)
            for info, tokens in per_connection.values():
                pending = info.get(_PENDING)
                if pending is None:
                    pending = info[_PENDING] = set()
                pending.update(TOKEN_MARK + token for token in tokens)
                _dirty()[id(info)] = info
        except Exception:
            log.exception("turbina.cache: could not read the scopes of a flush")
            raise

    def _seen(self, session: Session, *args: Any) -> None:
        refs: list[weakref.ref[Session]] = getattr(self._local, "refs", None) or []
        if not any(ref() is session for ref in refs):
            refs = [ref for ref in refs if ref() is not None][-_MAX_SESSIONS + 1 :]
            refs.append(weakref.ref(session))
        self._local.refs = refs

    def has_uncommitted(self) -> bool:
        """True if a session of this thread has new, dirty or deleted objects."""
        registry = self._registry
        if registry is not None:
            if not registry.has():
                return False
            return _changed(registry())
        refs = getattr(self._local, "refs", None)
        if not refs:
            return False
        return any(_changed(ref()) for ref in refs)

    def close(self) -> None:
        """Remove the listeners this watcher installed."""
        from sqlalchemy import event

        for target, name, fn in self._listening:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
        self._listening.clear()


def _mapper_tables(obj: Any) -> list[str]:
    try:
        from sqlalchemy import inspect

        return [table_name(t.name) for t in inspect(obj).mapper.tables]
    except Exception:
        return []


def _prop_of(mapper: Any, table: Any, column_name: str) -> Any:
    """The mapped property of ``table.column_name`` on ``mapper`` (None: not mapped)."""
    column = next((c for c in table.columns if c.name.lower() == column_name), None)
    if column is None:
        return None
    try:
        return mapper.get_property_by_column(column)
    except Exception:  # not mapped on this mapper
        return None


def _touches(state: Any, mapper: Any, table: Any, watch: frozenset[str]) -> bool:
    """True if this UPDATE may change a watched column: one has pending changes, or the
    database / an ``onupdate`` default sets it on every update (no history says so)."""
    for column in table.columns:
        if column.name.lower() not in watch:
            continue
        if column.onupdate is not None or column.server_onupdate is not None:
            return True
        prop = _prop_of(mapper, table, column.name.lower())
        if prop is not None and state.attrs[prop.key].history.has_changes():
            return True
    return False


def _scope_tokens(state: Any, mapper: Any, whole_row: bool = True) -> set[str]:
    """Stamp tokens of the scoped column values (old and new) of one written row; the
    table's unknown-rows token when a value cannot be known (an expired attribute).
    ``whole_row``: an insert or a delete (every column changes); for an update, the
    partitions that watch some columns are bumped only if a watched column changes."""
    tokens: set[str] = set()
    for table in mapper.tables:
        name = table_name(table.name)
        for column_name in scoped_columns(name):
            if not column_name:  # table-wide watches: no value, one stamp per watch
                for watch in scope_variants(name, column_name):
                    if watch is not None and (whole_row or _touches(state, mapper, table, watch)):
                        tokens.add(watch_token(name, watch))
                continue
            prop = _prop_of(mapper, table, column_name)
            if prop is None:
                tokens.add(unknown_rows_token(name))
                continue
            history = state.attrs[prop.key].history
            values = [*history.added, *history.deleted, *history.unchanged]
            if not values:
                tokens.add(unknown_rows_token(name))
            for watch in scope_variants(name, column_name):
                if watch is not None:
                    if not whole_row and not _touches(state, mapper, table, watch):
                        continue
                    tokens.add(watch_token(name, watch))
                tokens.update(scope_token(name, column_name, value, watch) for value in values)
    return tokens


def _changed(session: Session | None) -> bool:
    if session is None:
        return False
    is_clean = getattr(session, "_is_clean", None)
    if is_clean is not None:
        # No IdentitySet built: this runs on every cache lookup of a thread with a session.
        return not is_clean()
    return bool(session.new or session.deleted or session.dirty)
