"""The trigger bridge's listener: PostgreSQL notifications become stamp bumps (opt-in).

``TriggerListener``: one daemon thread with its own psycopg 3 connection, ``LISTEN
<channel>`` (the channel ``triggers`` installs). The notifications that arrive together are
coalesced into one set of tables (capped) and handed to ``deliver`` — the cache's commit
path, so each table is bumped as a write whose rows are unknown: its table stamp and every
scoped entry of it (every scoped entry depends on the table's unknown-rows stamp). When the
connection drops it reconnects with backoff, and then bumps every table that has the trigger
once (see ``_resync``). The app's own commits are notified too: they are bumped twice
(harmless) and counted as ``own`` (``OwnSessions``). Several processes sharing one store can
elect one listener among them (``elect``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from turbina.cache.scopes import TOKEN_MARK, scoped_columns, unknown_rows_token
from turbina.cache.stamps import table_name
from turbina.cache.tracking import ALL_TABLES
from turbina.cache.triggers import DEFAULT_CHANNEL, SQL_TAG, TRIGGER_NAME, check_identifier
from turbina.errors import TurbinaError

__all__ = ["OwnSessions", "TriggerListener", "connect_kwargs", "written_tables"]

log = logging.getLogger("turbina.cache")

_MAX_BATCH = 10_000  # distinct tables coalesced into one delivery (more: bump everything)
_MAX_PAYLOAD = 200
_MAX_OWN_PIDS = 10_000


def written_tables(names: Iterable[str]) -> set[str]:
    """The set a tracked commit delivers for writes to ``names`` whose rows are unknown: each
    table, plus its unknown-rows stamp when some cached function is scoped by it."""
    out: set[str] = set()
    for raw in names:
        name = table_name(raw)
        if not name:
            continue
        out.add(name)
        if scoped_columns(name):
            out.add(TOKEN_MARK + unknown_rows_token(name))
    return out


class OwnSessions:
    """Backend pids of one engine's pool connections, so that the listener can count the
    notifications of this process's own commits (already bumped by write tracking). A pool
    ``connect``/``close`` listener on that engine only: nothing runs per query."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self._engines: list[sa.Engine] = []

    def watch(self, engine: sa.Engine) -> None:
        """Remember the pid of every connection ``engine``'s pool opens from now on."""
        sa.event.listen(engine, "connect", self._connected)
        sa.event.listen(engine, "close", self._closed)
        self._engines.append(engine)

    def close(self) -> None:
        """Remove the pool listeners."""
        for engine in self._engines:
            for name, fn in (("connect", self._connected), ("close", self._closed)):
                if sa.event.contains(engine, name, fn):
                    sa.event.remove(engine, name, fn)
        self._engines.clear()

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        pid = _backend_pid(dbapi_connection)
        if pid is not None:
            if len(self.pids) >= _MAX_OWN_PIDS:
                self.pids.clear()  # only a count depends on it
            self.pids.add(pid)

    def _closed(self, dbapi_connection: Any, record: Any) -> None:
        pid = _backend_pid(dbapi_connection)
        if pid is not None:
            self.pids.discard(pid)


def _backend_pid(dbapi_connection: Any) -> int | None:
    try:
        pid = dbapi_connection.info.backend_pid  # psycopg 3 and psycopg2: no round trip
    except Exception:
        return None
    return pid if isinstance(pid, int) else None


def connect_kwargs(engine: sa.Engine) -> dict[str, Any]:
    """libpq connection parameters of ``engine``'s URL (driver-specific objects left out)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    params = {k: v for k, v in kwargs.items() if isinstance(v, str | int) and v != ""}
    if args and isinstance(args[0], str):
        params["conninfo"] = args[0]
    return params


class TriggerListener:
    """LISTEN on ``channel`` in a daemon thread and hand each batch of written tables to
    ``deliver`` (the set format of a tracked commit: ``written_tables``).

    ``start()`` connects in the caller's thread, so that ``LISTEN`` is in effect before the
    app computes its first entry; if that fails, the thread keeps trying with backoff.

    ``elect``: a key naming a store that several processes share (Redis). Of the listeners
    with the same key on one database, one listens — the holder of a session-level advisory
    lock on that key — and the others stand by, trying to take the lock every ``standby_s``.
    The lock is released when the holder's session ends (the process died, its connection
    dropped), so a standby takes over within ``standby_s`` and bumps every watched table once:
    it cannot know what was committed between the holder's end and its own ``LISTEN``.
    """

    def __init__(
        self,
        params: dict[str, Any],
        deliver: Callable[[set[str]], None],
        *,
        channel: str = DEFAULT_CHANNEL,
        own: OwnSessions | None = None,
        poll_s: float = 0.5,
        ping_s: float = 10.0,
        min_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        connect_timeout_s: int = 5,
        label: str = "",
        elect: str | None = None,
        standby_s: float = 2.0,
    ) -> None:
        self.params = {
            **params,
            "application_name": "turbina-listener",
            "connect_timeout": connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        self.deliver = deliver
        self.channel = check_identifier(channel, "channel")
        self.own = own
        self.poll_s = poll_s
        self.ping_s = ping_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.label = label
        self.elect = elect
        self.standby_s = standby_s
        self.role = "stopped"  # listening / standby / connecting / stopped
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._owed_resync = False
        self._warned = False
        self._lock = threading.Lock()
        self.counts = {
            "notifications": 0,  # received
            "own": 0,  # of them, from this process's own connections (bumped twice)
            "ignored": 0,  # payloads that name no table
            "batches": 0,  # deliveries (one bump each)
            "tables_bumped": 0,
            "overflows": 0,  # batches too large: every context bumped instead
            "connects": 0,
            "reconnects": 0,
            "resyncs": 0,  # every watched table bumped after a reconnect or a takeover
            "takeovers": 0,  # standby -> listening
            "errors": 0,
        }
        self.last_error: str | None = None
        self.backend_pid: int | None = None

    @classmethod
    def for_engine(
        cls, engine: sa.Engine, deliver: Callable[[set[str]], None], **options: Any
    ) -> TriggerListener:
        """A listener on the database of ``engine`` (its URL's connection parameters)."""
        if engine.dialect.name != "postgresql":
            raise TurbinaError(
                f"the trigger listener needs PostgreSQL, not {engine.dialect.name}",
                "use it only on postgresql:// databases",
            )
        return cls(connect_kwargs(engine), deliver, **options)

    # --- life cycle -------------------------------------------------------------------
    def start(self) -> bool:
        """Connect and LISTEN now, then run in the background. False if the first connection
        failed (the thread retries; the first success then bumps every watched table)."""
        if self._thread is not None and self._thread.is_alive():
            return self.connected.is_set()
        self._stop.clear()
        connected = False
        try:
            self._conn = self._open()
            connected = True
        except Exception as exc:
            self._failed(exc)
            self._owed_resync = True  # the app may cache before LISTEN is in effect
        self._thread = threading.Thread(
            target=self._run, name=f"turbina-listener{self.label}", daemon=True
        )
        self._thread.start()
        return connected

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (within ``poll_s``) and close its connection."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        """Counters, connection state and the last error."""
        with self._lock:
            out: dict[str, Any] = dict(self.counts)
        out.update(
            connected=self.connected.is_set(),
            running=self.running,
            channel=self.channel,
            role=self.role,
            backend_pid=self.backend_pid,
            last_error=self.last_error,
        )
        return out

    # --- the thread ---------------------------------------------------------------------
    def _open(self) -> Any:
        import psycopg  # optional: only the bridge needs the driver itself

        conn = psycopg.connect(autocommit=True, **self.params)
        try:
            if self.elect is None or self._elected(conn):
                conn.execute(f"{SQL_TAG}LISTEN {self.channel}")
                self.role = "listening"
            else:
                self.role = "standby"
        except Exception:
            conn.close()
            raise
        self.backend_pid = conn.info.backend_pid
        self._warned = False
        self._count("connects")
        self.connected.set()
        return conn

    def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            conn, self._conn = self._conn, None
            try:
                if conn is None:
                    self.role = "connecting"
                    conn = self._open()
                    self._count("reconnects")
                    self._owed_resync = True
                if self.role == "standby" and not self._stand_by(conn):
                    break  # stopped
                if self._owed_resync:
                    self._resync(conn)
                backoff = self.min_backoff_s
                self._listen(conn)
            except Exception as exc:
                if not self._stop.is_set():
                    self._failed(exc)
            finally:
                self.connected.clear()
                self.role = "connecting"
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        log.debug("turbina.cache: closing the listener connection failed")
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.max_backoff_s)
        self.role = "stopped"

    def _elected(self, conn: Any) -> bool:
        """Take the listener's advisory lock (session-level: held until the session ends)."""
        row = conn.execute(
            f"{SQL_TAG}SELECT pg_try_advisory_lock(hashtext(%s))",
            (f"turbina.listener:{self.elect}",),
        ).fetchone()
        return bool(row and row[0])

    def _stand_by(self, conn: Any) -> bool:
        """Wait until this session takes the lock, then LISTEN (True) — or until stopped
        (False). The lock query doubles as the connection's liveness check."""
        while not self._stop.wait(self.standby_s):
            if self._elected(conn):
                conn.execute(f"{SQL_TAG}LISTEN {self.channel}")
                self.role = "listening"
                self._owed_resync = True  # the previous holder's last moments are unknown
                self._count("takeovers")
                return True
        return False

    def _resync(self, conn: Any) -> None:
        # Notifications are not queued for a session that is not listening: whatever was
        # committed while this connection was down (or before the first one succeeded) is
        # lost. LISTEN is in effect again, so bumping every table that has the trigger now
        # covers the gap; later commits arrive as notifications.
        rows = conn.execute(
            f"{SQL_TAG}SELECT DISTINCT c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal "
            "AND split_part(encode(t.tgargs, 'escape'), '\\000', 1) = %s",
            (TRIGGER_NAME, self.channel),
        ).fetchall()
        tables = written_tables(row[0] for row in rows)
        if tables:
            self._deliver(tables)
        self._owed_resync = False
        self._count("resyncs")

    def _listen(self, conn: Any) -> None:
        idle_since = time.monotonic()
        own = self.own
        while not self._stop.is_set():
            batch: set[str] = set()
            received = 0
            for notify in conn.notifies(timeout=self.poll_s, stop_after=1):
                received += 1
                self._add(batch, notify, own)
            if received:
                # Coalesce: whatever else has already arrived joins this one bump.
                for notify in conn.notifies(timeout=0):
                    received += 1
                    self._add(batch, notify, own)
                with self._lock:
                    self.counts["notifications"] += received
                if batch:
                    self._deliver(batch)
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.ping_s:
                conn.execute(f"{SQL_TAG}SELECT 1")  # a dead connection raises here
                idle_since = time.monotonic()

    def _add(self, batch: set[str], notify: Any, own: OwnSessions | None) -> None:
        if own is not None and notify.pid in own.pids:
            self._count("own")
        payload = notify.payload
        tables = written_tables([payload]) if 0 < len(payload) <= _MAX_PAYLOAD else set()
        if not tables:
            self._count("ignored")
        elif ALL_TABLES in batch:
            return
        elif len(batch) + len(tables) > _MAX_BATCH:
            batch.clear()
            batch.add(ALL_TABLES)
            self._count("overflows")
        else:
            batch.update(tables)

    def _deliver(self, tables: set[str]) -> None:
        try:
            self.deliver(tables)
        except Exception:
            self._count("errors")
            log.exception("turbina.cache: a stamp bump from the trigger listener raised")
            return
        with self._lock:
            self.counts["batches"] += 1
            self.counts["tables_bumped"] += sum(1 for t in tables if not t.startswith(TOKEN_MARK))

    def _failed(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        self.last_error = f"{exc.__class__.__name__}: {first}"
        self._count("errors")
        # Once per outage, not once per retry (every few seconds while the database is away).
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(
            level,
            "turbina.cache: trigger listener on channel %s has no connection (%s); "
            "reconnecting, then every watched table is bumped once",
            self.channel,
            self.last_error,
        )

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1
