"""``QueryRecorder(engine)``: per-fingerprint stats, slow log and request data for one engine.

The hot path avoids SQLAlchemy's engine events (an empty before/after_cursor_execute pair
already costs ~10 µs per query): the recorder wraps ``do_execute``, ``do_execute_no_params``
and ``do_executemany`` on the engine's own dialect instance (every ``create_engine`` makes
its own dialect). Per query it pays two clock reads, one LRU hit (raw statement ->
fingerprint), one locked stats update and a context-variable read. Stack walks, redaction
and EXPLAIN happen only for slow queries and N+1 candidates (EXPLAIN also for one run of
at least ``explain_ms``, so the plans behind the relative slow rules are known).

A failure inside the recorder never reaches the application: it is counted, logged once,
and the query's result is returned untouched.

N+1 detection shares it too: while a request is collected, each statement's execution
context tells ``turbina.queries.nplusone`` whether it is a lazy load (``nplusone=False`` turns
that off).

Other parts share this one hook instead of adding their own: ``recorder.subscribe(hook)``
makes the wrapper call ``hook(cursor, statement, parameters, context)`` before each
statement (the cache's write tracking and read recording do); the hook may return a callable
that runs after the statement, whether it succeeded or raised. Hooks must not raise. With no
subscriber the wrapper pays one list read.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from turbina.errors import TurbinaError
from turbina.queries.callsite import callsite
from turbina.queries.context import QueryCollector, current_collector
from turbina.queries.fingerprint import FingerprintCache, fingerprint, split_tags
from turbina.queries.nplusone import note_statement
from turbina.queries.slowlog import SlowLog, SlowQuery
from turbina.queries.stats import QueryStats, StatsTable, WorkloadSample

log = logging.getLogger("turbina.queries")

TURBINA_SQL_TAG = "/* turbina */"
_WRAPPED = ("do_execute", "do_execute_no_params", "do_executemany")
# Recorders attached right now, in this process (the test guards check one is there).
_attached: weakref.WeakSet[QueryRecorder] = weakref.WeakSet()


def attached_recorders() -> int:
    """How many recorders are attached to an engine in this process."""
    return len(_attached)


def is_recorded(engine: Engine) -> bool:
    """True when ``engine`` has a recorder."""
    return getattr(engine.dialect, "_turbina_recorder", None) is not None


class QueryRecorder:
    """Records every statement ``engine`` sends to its cursors.

    Usable without Flask: ``rec = QueryRecorder(engine)``; read ``rec.top()``,
    ``rec.slow_log.entries()``, ``rec.workload_samples()``; ``rec.close()`` detaches.
    Attaching twice to one engine raises ``TurbinaError`` (use ``QueryRecorder.for_engine``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        max_fingerprints: int = 5000,
        slow_query_ms: float = 500.0,
        explain_ms: float | None = None,
        slow_log: SlowLog | None = None,
        slow_log_size: int = 500,
        explainer: Any = None,
        fingerprinter: Callable[[str], str] = fingerprint,
        nplusone: bool = True,
    ) -> None:
        if getattr(engine.dialect, "_turbina_recorder", None) is not None:
            raise TurbinaError(
                f"engine {engine.url!r} already has a QueryRecorder",
                "use QueryRecorder.for_engine(engine) to get the attached one",
            )
        self.engine = engine
        self.name = name or engine.url.database or engine.dialect.name
        self.dialect_name = engine.dialect.name
        self.slow_query_ms = slow_query_ms
        # A run this long is EXPLAINed even below the slow-log threshold (the relative
        # rules of ``turbina.queries.slow`` flag statements by their plans too).
        self.explain_ms = slow_query_ms if explain_ms is None else explain_ms
        self.stats = StatsTable(max_fingerprints)
        self.cache = FingerprintCache(
            max(2 * max_fingerprints, 1000),
            skip_prefix=TURBINA_SQL_TAG,
            fingerprinter=fingerprinter,
        )
        self.slow_log = slow_log if slow_log is not None else SlowLog(slow_log_size)
        self.explainer = explainer
        # N+1 detection reads each statement's ORM context (turbina.queries.nplusone).
        self.nplusone = nplusone
        self.errors = 0
        self._warned = False
        self._originals: dict[str, Any] = {}
        # The subscribers' hook, composed (subscribe()); read by the wrappers on every call.
        self._hook: list[Callable[[Any, str, Any, Any], Callable[[], None] | None] | None] = [None]
        self._subscribers: list[tuple[Any, Callable[[], None] | None]] = []
        self._attach()

    @classmethod
    def for_engine(cls, engine: Engine, **options: Any) -> QueryRecorder:
        """The recorder already attached to ``engine``, or a new one."""
        existing: QueryRecorder | None = getattr(engine.dialect, "_turbina_recorder", None)
        return existing if existing is not None else cls(engine, **options)

    # --- hot path ------------------------------------------------------------------------

    def _attach(self) -> None:
        dialect = self.engine.dialect
        for attr in _WRAPPED:
            self._originals[attr] = getattr(dialect, attr)
        execute = self._originals["do_execute"]
        execute_no_params = self._originals["do_execute_no_params"]
        executemany = self._originals["do_executemany"]
        record = self._make_record()
        clock = time.perf_counter
        hook = self._hook

        def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> Any:
            before = hook[0]
            after = before(cursor, statement, parameters, context) if before else None
            start = clock()
            try:
                return execute(cursor, statement, parameters, context)
            finally:
                record(statement, parameters, clock() - start, cursor, context)
                if after is not None:
                    after()

        def do_execute_no_params(cursor: Any, statement: str, context: Any = None) -> Any:
            before = hook[0]
            after = before(cursor, statement, None, context) if before else None
            start = clock()
            try:
                return execute_no_params(cursor, statement, context)
            finally:
                record(statement, None, clock() - start, cursor, context)
                if after is not None:
                    after()

        def do_executemany(
            cursor: Any, statement: str, parameters: Any, context: Any = None
        ) -> Any:
            before = hook[0]
            after = before(cursor, statement, parameters, context) if before else None
            start = clock()
            try:
                return executemany(cursor, statement, parameters, context)
            finally:
                record(
                    statement,
                    parameters[0] if parameters else None,
                    clock() - start,
                    cursor,
                    context,
                )
                if after is not None:
                    after()

        def install() -> None:
            dialect.do_execute = do_execute  # type: ignore[method-assign]
            dialect.do_execute_no_params = do_execute_no_params  # type: ignore[method-assign]
            dialect.do_executemany = do_executemany  # type: ignore[method-assign]

        def uninstall() -> None:
            for attr in _WRAPPED:
                dialect.__dict__.pop(attr, None)

        initialize = dialect.initialize

        def initialize_unrecorded(connection: Any) -> None:
            # SQLAlchemy's own first-connect probes (server version, schema, ...) are not the
            # application's queries. This runs once, under the pool's first-connect mutex.
            uninstall()
            try:
                initialize(connection)
            finally:
                if getattr(dialect, "_turbina_recorder", None) is self:
                    install()

        self._originals["initialize"] = initialize
        dialect.initialize = initialize_unrecorded  # type: ignore[method-assign]
        install()
        dialect._turbina_recorder = self  # type: ignore[attr-defined]
        _attached.add(self)

    def subscribe(
        self,
        hook: Callable[[Any, str, Any, Any], Callable[[], None] | None],
        *,
        on_close: Callable[[], None] | None = None,
    ) -> Callable[[], None]:
        """Call ``hook(cursor, statement, parameters, context)`` before every statement of
        this engine (it may return a callable run after the statement). ``on_close`` is
        called when the recorder detaches (its wrapper, and the subscription, go away).
        Returns the function that unsubscribes."""
        entry = (hook, on_close)
        self._subscribers.append(entry)
        self._compose()

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._compose()

        return unsubscribe

    def _compose(self) -> None:
        hooks = [hook for hook, _ in self._subscribers]
        if len(hooks) <= 1:
            self._hook[0] = hooks[0] if hooks else None
            return

        def every(cursor: Any, statement: str, parameters: Any, context: Any) -> Any:
            afters = [h(cursor, statement, parameters, context) for h in hooks]
            pending = [after for after in afters if after is not None]
            if not pending:
                return None
            return lambda: [after() for after in pending] and None

        self._hook[0] = every

    def _make_record(self) -> Callable[[str, Any, float, Any, Any], None]:
        """The per-query bookkeeping, as a closure over local references (no attribute
        lookups on the hot path beyond the slow threshold, which may change at run time)."""
        cache_get = self.cache.get
        stats_record = self.stats.record
        slow = self._slow
        failed = self._failed
        recorder = self

        def record(
            statement: str, parameters: Any, seconds: float, cursor: Any, context: Any
        ) -> None:
            try:
                shape = cache_get(statement)
                if shape is None:
                    return
                ms = seconds * 1000.0
                rowcount = cursor.rowcount
                entry = stats_record(
                    shape, statement, parameters, ms, rowcount if type(rowcount) is int else 0
                )
                collector = current_collector()
                if collector is not None:
                    if context is not None and recorder.nplusone:
                        note_statement(collector, context)
                    collector.record(shape, ms)
                if ms >= recorder.slow_query_ms:
                    slow(entry, statement, parameters, ms, collector)
                elif ms >= recorder.explain_ms and recorder.explainer is not None:
                    recorder.explainer.submit(entry, statement, parameters)
            except Exception:
                failed()

        return record

    def _slow(
        self,
        entry: QueryStats,
        statement: str,
        parameters: Any,
        ms: float,
        collector: QueryCollector | None,
    ) -> None:
        self.slow_log.add(
            SlowQuery(
                at=time.time(),
                engine=self.name,
                sql=entry.fingerprint,
                duration_ms=round(ms, 3),
                endpoint=collector.endpoint if collector is not None else None,
                callsite=callsite(collector.root if collector is not None else None),
                tags=split_tags(statement)[1],
            )
        )
        if self.explainer is not None:
            self.explainer.submit(entry, statement, parameters)

    def _failed(self) -> None:
        self.errors += 1
        if not self._warned:
            self._warned = True
            log.exception(
                "turbina: query recording failed on engine %s; the query itself went on "
                "(further failures are only counted in recorder.errors)",
                self.name,
            )

    # --- reading -------------------------------------------------------------------------

    def top(self, n: int = 20, sort: str = "total") -> list[QueryStats]:
        """The ``n`` heaviest fingerprints by ``total`` time, ``p95`` or ``calls``."""
        keys: dict[str, Callable[[QueryStats], float]] = {
            "total": lambda e: e.total_ms,
            "p95": lambda e: e.histogram.percentile(95),
            "calls": lambda e: e.calls,
            "mean": lambda e: e.mean_ms,
        }
        if sort not in keys:
            raise TurbinaError(f"unknown sort {sort!r}", f"use one of {', '.join(keys)}")
        return sorted(self.stats, key=keys[sort], reverse=True)[:n]

    def workload_samples(self) -> list[WorkloadSample]:
        """One sample per fingerprint (raw statement and parameters: in memory only)."""
        return [
            WorkloadSample(
                engine_name=self.name,
                dialect=self.dialect_name,
                fingerprint=entry.fingerprint,
                statement=entry.sample_statement,
                parameters=entry.sample_parameters,
                calls=entry.calls,
                total_ms=entry.total_ms,
                mean_ms=entry.mean_ms,
                constant_parameters=entry.constant_parameters,
                rows=entry.rows,
            )
            for entry in self.stats
        ]

    def reset(self) -> None:
        """Forget stats and the slow log (the fingerprint cache stays warm)."""
        self.stats.clear()
        self.slow_log.clear()

    def close(self) -> None:
        """Detach from the engine (its dialect is restored)."""
        dialect = self.engine.dialect
        if getattr(dialect, "_turbina_recorder", None) is self:
            for attr in (*_WRAPPED, "initialize"):
                dialect.__dict__.pop(attr, None)
            del dialect._turbina_recorder  # type: ignore[attr-defined]
        _attached.discard(self)
        subscribers, self._subscribers = self._subscribers, []
        self._hook[0] = None
        for _, on_close in subscribers:
            if on_close is not None:
                on_close()
        if self.explainer is not None:
            self.explainer.close()
