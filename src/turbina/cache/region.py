"""The cache policy: ``TurbinaCache`` with ``cached()``, ``invalidate()``, ``stats()``.

One call of a cached function:
1. bypass the cache if this thread holds uncommitted writes (it must read its own), if a bump
   that concerns the context has not reached the store yet, or if the store is down;
2. read the entry and validate its stamps in one round trip — a hit is decoded and returned;
   a miss is counted by its cause (first sight, invalidation, TTL, eviction, error);
3. on a miss take the compute lock (or wait a bounded time for the holder, then read again);
4. read the stamps of the store's generation, the context and the tables the function
   depends on *before* computing; compute, seeing every statement at the cursor;
5. store only what is safe, and count why not otherwise: not when the computation read
   tables whose stamps were not read first (recorded dependencies learn them; the next miss
   stores), not when the dependencies are unknown (no SQL ran on a tracked engine), not
   when a statement read a snapshot older than the stamps (REPEATABLE READ / SERIALIZABLE
   transactions begun earlier), not when the computation wrote without committing;
6. write with compare-and-set against those stamps: a commit that landed meanwhile makes
   the write a no-op, so no stale entry can be stored.
Store errors never fail the call: a read error is a miss (and the store is left alone for
``retry_after_s``), a write error is counted, an unencodable value is returned uncached;
all are logged at a bounded rate.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from turbina.cache import reads
from turbina.cache.backends.base import (
    DERIVED_FIELDS,
    CacheBackend,
    ReadStatus,
    derive_counters,
)
from turbina.cache.keys import KeyMaker
from turbina.cache.locks import ComputeLock
from turbina.cache.scopes import TOKEN_MARK, Scope
from turbina.cache.spec import (
    CacheSpec,
    Uncacheable,
    check_context,
    check_known_context,
    check_ttl,
    dependency_tables,
    unknown_tables_error,
)
from turbina.cache.stamps import ALL_TABLES_TOKEN, PendingBumps, context_token, table_token
from turbina.cache.stats import CounterBuffer, LocalCounters, RateLimitedLog
from turbina.cache.tracking import (
    ALL_TABLES,
    EngineTracker,
    SessionWatcher,
    thread_has_uncommitted_writes,
)
from turbina.cache.tracking import _local as _thread_state
from turbina.errors import TurbinaError

__all__ = ["CacheSpec", "TurbinaCache", "Uncacheable", "dependency_tables"]  # re-exported

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=CounterBuffer)
log = logging.getLogger("turbina.cache")

_MISS_FIELD = {
    ReadStatus.MISS: "miss_first",
    ReadStatus.STALE: "miss_invalidated",
    ReadStatus.EXPIRED: "miss_expired",
    ReadStatus.EVICTED: "miss_evicted",
}
_SHARED_CONNECTION_POOLS = (SingletonThreadPool, StaticPool)
_HIT = ReadStatus.HIT
_MISS = object()  # looked up, not found: compute and store
_BYPASS = object()  # not looked up (or the store failed): compute, store nothing


class TurbinaCache:
    """Context cache with stamp-based invalidation over one ``CacheBackend``.

    ``contexts`` maps context names to TTL seconds; a decorator naming another context must
    pass ``ttl=`` (which declares it). Give the cache the engines (and session factories)
    whose commits must invalidate: ``track_session_writes(engine)`` — nothing is installed
    on SQLAlchemy's classes, and nothing on an engine the cache was not given.
    ``max_stale_s`` caps every entry's lifetime (the bound on staleness when a writer cannot
    reach the store).
    """

    contexts_source = "the cache's contexts (TurbinaCache(backend, contexts))"

    def __init__(
        self,
        backend: CacheBackend,
        contexts: Mapping[str, int] | None = None,
        *,
        namespace: str = "turbina",
        max_value_bytes: int = 1024 * 1024,
        lock_timeout_ms: int = 5000,
        enabled: bool = True,
        retry_after_s: float = 1.0,
        max_stale_s: int | None = None,
    ) -> None:
        self.backend = backend
        self.retry_after_s = retry_after_s
        self._store_down_until = 0.0
        self.contexts: dict[str, int] = {}
        for name, ttl in (contexts or {}).items():
            check_context(name)
            check_ttl(ttl)
            self.contexts[name] = ttl
        check_ttl(max_stale_s)
        self.max_stale_s = max_stale_s
        self.namespace = namespace
        self.max_value_bytes = max_value_bytes
        self.lock_timeout_ms = lock_timeout_ms
        self.enabled = enabled
        self._specs: dict[tuple[Any, ...], tuple[CacheSpec, KeyMaker]] = {}
        self._specs_lock = threading.Lock()
        self._log = RateLimitedLog(log)
        self._encode = backend.encode_value
        self._decode = backend.decode_value
        self._counters: CounterBuffer = LocalCounters(backend.add_stats)
        self._pending = PendingBumps(backend.bump, self._every_context_token)
        self._trackers: list[EngineTracker] = []
        self._sessions: list[SessionWatcher] = []
        self._scopes_used = False  # a spec declared a scope: sessions report their flushes
        self.warnings: list[str] = []

    def observe_counts(self, wrap: Callable[[CounterBuffer], C]) -> C:
        """Route every event this cache counts through ``wrap(current_counter_buffer)`` and
        return the wrapper: one observer for extra per-context or per-request totals with
        no second hook on the hit path. ``wrap`` receives the buffer in place (``add``,
        ``flush``, ``snapshot``) and must return an object with the same three methods that
        passes each event on. Call it before the cache serves anything."""
        wrapper = wrap(self._counters)
        for name in ("add", "flush", "snapshot"):
            if not callable(getattr(wrapper, name, None)):
                raise TypeError(f"observe_counts: the wrapper has no {name}() method")
        self._counters = wrapper
        return wrapper

    # --- configuration ----------------------------------------------------------------
    def track_session_writes(self, target: Any, *, metadata: Iterable[sa.MetaData] = ()) -> None:
        """Invalidate on writes committed through ``target``: an ``Engine`` (every commit
        path of every connection), or a ``scoped_session`` / ``sessionmaker`` / your own
        ``Session`` subclass (whose unflushed changes make this thread bypass the cache).
        ``metadata``: foreign keys whose ON DELETE / ON UPDATE actions the database applies
        (the catalog is read too)."""
        if target is None:
            raise TurbinaError(
                "track_session_writes(None) would listen on every engine and session of the "
                "process",
                "pass the engines and session factories the cache must follow",
            )
        if isinstance(target, Engine):
            self.track_engine(target, metadata=metadata)
        elif isinstance(target, scoped_session | sessionmaker) or (
            isinstance(target, type) and issubclass(target, Session)
        ):
            self.track_sessions(target)
        else:
            raise TypeError(
                f"cannot track writes of {type(target).__name__}: pass an Engine, a "
                "scoped_session, a sessionmaker or a Session subclass"
            )

    def track_engine(self, engine: Engine, *, metadata: Iterable[sa.MetaData] = ()) -> None:
        """Follow the writes and commits of ``engine`` (idempotent)."""
        if not self.enabled:
            return
        tracker = EngineTracker.attach(engine, self._on_commit)
        for item in metadata:
            tracker.relations.add_metadata(item)
        if tracker not in self._trackers:
            self._trackers = [*self._trackers, tracker]

    def track_sessions(self, target: Any) -> None:
        """Bypass the cache in a thread whose session (of ``target``) has pending changes."""
        if not self.enabled:
            return
        if any(watcher.target is target for watcher in self._sessions):
            return
        watcher = SessionWatcher(target)
        if self._scopes_used:
            watcher.listen_to_flushes()
        self._sessions = [*self._sessions, watcher]

    def _every_context_token(self) -> list[str]:
        return [context_token(c) for c in self.contexts]

    def _on_commit(self, tables: set[str]) -> None:
        tokens = [
            ALL_TABLES_TOKEN
            if t == ALL_TABLES
            else t[1:]
            if t.startswith(TOKEN_MARK)
            else table_token(t)
            for t in tables
        ]
        down = bool(self._store_down_until) and time.monotonic() < self._store_down_until
        if not self._pending.bump(tokens, attempt=not down):
            self._count_error(
                "bump",
                f"could not bump stamps of tables {sorted(tables)}; retried in the background, "
                "and every context is bypassed in this process until it lands",
            )

    def _ensure_relations(self) -> None:
        for tracker in self._trackers:
            relations = tracker.relations
            if relations.stale and not isinstance(tracker.engine.pool, _SHARED_CONNECTION_POOLS):
                # Never on a pool whose one connection a transaction in flight may be using:
                # returning it would roll that transaction back.
                relations.ensure_loaded(tracker.engine)

    def spec_for(
        self,
        func: Callable[..., Any],
        context: str,
        depends_on: Iterable[Any] | None = None,
        ttl: int | None = None,
        *,
        lock: bool = True,
        extra: str = "",
    ) -> tuple[CacheSpec, KeyMaker]:
        """The (memoized) spec and key maker of ``func`` cached in ``context``."""
        items = None if depends_on is None else list(depends_on)
        declared = None if items is None else dependency_tables(items)
        scopes = tuple(item for item in items or () if isinstance(item, Scope))
        memo_key = (func, context, declared, scopes, ttl, lock, extra)
        found = self._specs.get(memo_key)
        if found is not None:
            return found
        check_context(context)
        check_ttl(ttl)
        with self._specs_lock:
            if context not in self.contexts:
                if ttl is None:
                    check_known_context(context, self.contexts, self.contexts_source)
                self.contexts[context] = ttl  # type: ignore[assignment]
            keys = KeyMaker(func, self.namespace, context, extra)
            if declared is not None and items is not None:
                declared = self._resolve_declared(keys.function, declared, items)
            spec = CacheSpec(
                context,
                ttl or self.contexts[context],
                keys.function,
                declared,
                lock=lock,
                scopes=scopes,
            )
            if spec.partitions:
                spec.pick = keys.picker(spec.partition_args())
            if scopes:
                self._scopes_used = True
                for watcher in self._sessions:
                    watcher.listen_to_flushes()
            self._specs[memo_key] = (spec, keys)
            return spec, keys

    def _resolve_declared(
        self, function: str, declared: frozenset[str], items: list[Any]
    ) -> frozenset[str]:
        """Views among the declared names -> their base tables; names no tracked database
        knows -> an error naming them (checked only where the catalog is known)."""
        if not self._trackers:
            return declared
        self._ensure_relations()
        named = {dependency_tables([item]) for item in items if isinstance(item, str)}
        strings = frozenset().union(*named) if named else frozenset()
        if strings and all(t.relations.loaded for t in self._trackers):
            known = frozenset().union(*(t.relations.known() for t in self._trackers))
            unknown = strings - known
            if unknown:
                for tracker in self._trackers:  # created since the catalog was read?
                    tracker.relations.load(tracker.engine)
                known = frozenset().union(*(t.relations.known() for t in self._trackers))
                unknown = strings - known
            if unknown:
                raise unknown_tables_error(function, unknown, known)
        out = set(declared)
        for tracker in self._trackers:
            out = tracker.relations.read(out)
        return frozenset(out)

    # --- the decorator ----------------------------------------------------------------
    def cached(
        self,
        context: str,
        depends_on: Iterable[Any] | None = None,
        *,
        ttl: int | None = None,
        lock: bool = True,
    ) -> Callable[[F], F]:
        """Cache a function's results in ``context``.

        ``depends_on``: models, tables or table names whose committed writes invalidate the
        entries; when omitted, the tables the function actually read are recorded (an entry
        is stored from the second miss on, and never when no SQL ran: pass
        ``depends_on=[]`` for a function that reads no database).
        """
        check_context(context)
        check_ttl(ttl)
        if ttl is None:
            check_known_context(context, self.contexts, self.contexts_source)
        deps = None if depends_on is None else list(depends_on)
        if deps is not None:
            dependency_tables(deps)  # a bad item fails here, at decoration time

        def decorator(func: F) -> F:
            resolved: list[tuple[CacheSpec, KeyMaker]] = []

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not resolved:  # on first call: string names are checked against the catalog
                    resolved.append(self.spec_for(func, context, deps, ttl, lock=lock))
                spec, keys = resolved[0]
                return self.call(spec, keys, func, args, kwargs)

            wrapper.__turbina_cache__ = self  # type: ignore[attr-defined]
            return wrapper  # type: ignore[return-value]

        return decorator

    def call(
        self,
        spec: CacheSpec,
        keys: KeyMaker,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Run ``func(*args, **kwargs)`` through the cache described by ``spec``."""
        running = reads._current.get()
        if running is not None and running.record and spec.declared is None:
            # Inside another cached computation that records its reads: run for real so the
            # outer entry learns this function's tables too.
            return func(*args, **kwargs)
        try:
            key = keys.key(args, kwargs)  # TypeError for an un-keyable argument: a caller bug
        except RecursionError:
            self._counters.add(spec.context, "bypassed")
            return func(*args, **kwargs)
        pick = spec.pick
        tokens = None if pick is None else spec.tokens_of_values(pick(args, kwargs))
        found = self._lookup(spec, key, running, tokens)
        if found is _BYPASS:
            return func(*args, **kwargs)
        if found is not _MISS:
            return found
        result = self._compute(
            spec, spec.context + ":" + key, lambda: func(*args, **kwargs), tokens
        )
        return result.value if isinstance(result, Uncacheable) else result

    def _bypass(self, context: str) -> bool:
        if not self.enabled or (_thread_state.dirty and thread_has_uncommitted_writes()):
            return True
        for watcher in self._sessions:
            if watcher.has_uncommitted():
                return True
        if self._pending._tokens and self._pending.blocks(context):
            return True
        return bool(self._store_down_until) and time.monotonic() < self._store_down_until

    def get_or_create(self, spec: CacheSpec, key: str, creator: Callable[[], Any]) -> Any:
        """The cached value of ``key`` in ``spec.context``, computing it with ``creator``."""
        found = self._lookup(spec, key, reads._current.get())
        if found is _BYPASS:
            return creator()
        if found is not _MISS:
            return found
        return self._compute(spec, spec.context + ":" + key, creator)

    def _lookup(
        self,
        spec: CacheSpec,
        key: str,
        running: reads.Computation | None,
        call_tokens: tuple[str, ...] | None = None,
    ) -> Any:
        """The hit path: the decoded value, ``_MISS`` (compute and store) or ``_BYPASS``
        (compute, store nothing). Every outcome is counted."""
        context = spec.context
        tokens, tables = spec._snapshot or spec.snapshot()
        if call_tokens is not None:
            tokens = call_tokens
        if running is not None:
            running.noted |= tables  # an enclosing computation depends on these too
        counters = self._counters
        if (
            not self.enabled
            or _thread_state.dirty
            or self._sessions
            or self._pending._tokens
            or self._store_down_until
        ) and self._bypass(context):  # the common case is one attribute test each
            counters.add(context, "bypassed")
            return _BYPASS
        try:
            read = self.backend.read_dynamic if spec.row_tables else self.backend.read
            status, payload = read(context + ":" + key, context, tokens)
        except Exception as exc:
            # Fail open, and leave the store alone for a moment: a dead or partitioned Redis
            # must not cost every request a connection attempt (or a timeout).
            self._store_down_until = time.monotonic() + self.retry_after_s
            self._count_error("read", f"cache read failed in context {context!r}", exc, context)
            counters.add(context, "miss_error")
            return _BYPASS
        if self._store_down_until:
            self._store_down_until = 0.0
        if status is _HIT:
            try:
                value = self._decode(payload)  # type: ignore[arg-type]
            except Exception as exc:
                self._count_error(
                    "decode", f"undecodable entry in context {context!r}", exc, context
                )
                counters.add(context, "miss_error")
                return _MISS
            counters.add(context, "hits")
            return value
        counters.add(context, _MISS_FIELD[status])
        return _MISS

    def _compute(
        self,
        spec: CacheSpec,
        logical: str,
        creator: Callable[[], Any],
        call_tokens: tuple[str, ...] | None = None,
    ) -> Any:
        context = spec.context
        lock = ComputeLock(self.backend, logical, self.lock_timeout_ms) if spec.lock else None
        try:
            if lock is not None and not lock.acquire():
                self._counters.add(context, "lock_waits")
                if lock.wait():
                    read = self.backend.read_dynamic if spec.row_tables else self.backend.read
                    status, payload = read(logical, context, call_tokens or spec.tokens())
                    if status is ReadStatus.HIT:
                        return self._decode(payload)  # type: ignore[arg-type]
                lock.acquire()
        except Exception as exc:
            self._count_error("lock", f"cache lock failed in context {context!r}", exc, context)
            return creator()
        try:
            return self._compute_locked(spec, logical, creator, call_tokens)
        finally:
            if lock is not None:
                try:
                    lock.release()
                except Exception as exc:
                    self._count_error("lock", "cache lock release failed", exc, context)

    def _compute_locked(
        self,
        spec: CacheSpec,
        logical: str,
        creator: Callable[[], Any],
        call_tokens: tuple[str, ...] | None = None,
    ) -> Any:
        context = spec.context
        self._ensure_relations()
        tokens, covered = spec.snapshot()
        if call_tokens is not None:
            tokens = call_tokens
        guard_tokens = spec.guard_tokens()
        try:
            read = self.backend.read_stamps([*tokens, *guard_tokens])
        except Exception as exc:
            self._count_error("stamps", f"stamp read failed in context {context!r}", exc, context)
            return creator()
        stamps, guard = (
            read[: len(tokens)],
            list(zip(guard_tokens, read[len(tokens) :], strict=True)),
        )
        with reads.computing(record=spec.declared is None) as running:
            value = creator()
        if isinstance(value, Uncacheable):
            self._counters.add(context, value.reason)
            return value
        reason = self._not_storable(spec, running, covered)
        if reason is not None:
            self._counters.add(context, reason)
            return value
        if running.rows or running.whole_rows or guard:
            # Row sets are known only now: their stamps are read after the data, which is
            # safe because the write is also checked against the tables' stamps read before.
            try:
                found = self._row_tokens(spec, running, guard)
            except Exception as exc:
                self._count_error("stamps", f"row stamps unreadable in {context!r}", exc, context)
                return value
            if found is None:
                self._counters.add(context, "not_stored_learning")
                return value
            row_tokens, row_stamps = found
            tokens, stamps = (*tokens, *row_tokens), [*stamps, *row_stamps]
        try:
            payload = self._encode(value)
        except Exception as exc:  # TypeError (a type), RecursionError (nesting), ...
            self._count_error("encode", f"{spec.name} returned an uncacheable value", exc, context)
            self._counters.add(context, "not_stored_encode")
            return value
        if len(payload) > self.max_value_bytes:
            self._counters.add(context, "not_stored_oversize")
            return value
        ttl = spec.ttl_s if self.max_stale_s is None else min(spec.ttl_s, self.max_stale_s)
        try:
            if self.backend.write(logical, context, payload, tokens, stamps, ttl, guard):
                self._counters.add(context, "bytes", len(payload))
            else:  # a stamp moved while computing: the value may already be stale
                self._counters.add(context, "not_stored_raced")
        except Exception as exc:
            self._count_error("write", f"cache write failed in context {context!r}", exc, context)
        return value

    def _row_tokens(
        self, spec: CacheSpec, running: reads.Computation, guard: list[tuple[str, int]]
    ) -> tuple[list[str], list[int]] | None:
        """The row-set tokens the computation named, with their current stamps; ``None``
        when it named rows of a table whose stamp was not read first (learned now)."""
        unguarded = (set(running.rows) | running.whole_rows) - spec.row_tables
        if unguarded:
            spec.learn_rows(unguarded)
            return None
        whole: list[tuple[str, int]] = []
        named: set[str] = set()
        guarded = dict(guard)
        for table in sorted(spec.row_tables):
            rows = running.rows.get(table)
            if rows is None:  # no rows named, or too many: depends on the whole table
                # A row-scoped table the computation named no rows of: depend on all of it.
                token = table_token(table)
                if token in guarded:
                    whole.append((token, guarded[token]))
            else:
                named |= rows
        ordered = sorted(named)
        stamps = self.backend.read_stamps(ordered) if ordered else []
        return [*(t for t, _ in whole), *ordered], [*(s for _, s in whole), *stamps]

    def _not_storable(
        self, spec: CacheSpec, running: reads.Computation, covered: frozenset[str]
    ) -> str | None:
        """Why the value just computed must not be stored (the counter), or None."""
        if running.old_snapshot:
            return "not_stored_snapshot"
        if thread_has_uncommitted_writes() or any(w.has_uncommitted() for w in self._sessions):
            # The computation wrote without committing: its value may include a dirty read.
            return "not_stored_uncommitted"
        needed = set(running.noted)
        if spec.declared is None:
            if not running.tables and not running.noted:
                return "not_stored_unknown_deps"  # no SQL reached a tracked engine
            mine = set(self._trackers)
            if running.tables and not running.trackers <= mine:
                return "not_stored_unknown_deps"  # read an engine whose commits we miss
            self._ensure_relations()
            tables = set(running.tables)
            for tracker in running.trackers:
                tables = tracker.relations.read(tables)
            needed |= tables
        missing = needed - covered
        if missing:
            # These tables' stamps were not read before computing: not safe to store now;
            # the next miss reads them first.
            spec.learn(missing)
            return "not_stored_learning"
        return None

    # --- invalidation and stats -------------------------------------------------------
    def invalidate(self, context: str) -> bool:
        """Make every entry of ``context`` stale (one INCR). False if the store failed; the
        context is then bypassed in this process until the background retry lands."""
        check_context(context)
        ok = self._pending.bump([context_token(context)])
        if not ok:
            self._count_error(
                "bump", f"could not invalidate context {context!r}; bypassed until a retry succeeds"
            )
        return ok

    def invalidate_tables(self, *tables: Any) -> bool:
        """Make every entry that depends on ``tables`` (models, Tables or names) stale."""
        names = dependency_tables(tables)
        ok = self._pending.bump(table_token(t) for t in names)
        if not ok:
            self._count_error(
                "bump", f"could not bump tables {sorted(names)}; bypassed until a retry succeeds"
            )
        return ok

    def commit_seen(self, tables: set[str]) -> None:
        """Bump ``tables`` exactly as a tracked commit that wrote them does (the set an
        ``EngineTracker`` delivers): for commits no tracker sees, such as the PostgreSQL
        trigger bridge's notifications (``trigger_listener.written_tables`` builds the set)."""
        self._on_commit(tables)

    def drop_pending_bumps(self) -> list[str]:
        """Forget the bumps that have not reached the store (no retry, no warning at exit):
        for a command that reported the failure itself and is about to exit."""
        return self._pending.drop()

    def stats(self) -> dict[str, Any]:
        """Counters per context (shared by every process on the same store), plus health.

        Per context: ``hits``, ``misses`` and each miss by cause (``miss_first``,
        ``miss_invalidated``, ``miss_expired``, ``miss_evicted``, ``miss_error``), values
        ``not_stored`` and each reason (``not_stored_*``), ``bypassed``, ``lock_waits``,
        ``errors``, ``bytes``; ``hit_rate`` (hits / lookups), ``hit_rate_seen`` (hits /
        lookups of keys seen before: first sights excluded) and ``stale_prevented``
        (invalidated entries + refused writes)."""
        self._counters.flush()
        error = None
        try:
            shared = self.backend.read_stats(list(self.contexts))
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            shared = {}
        pending = self._pending.pending()
        contexts: dict[str, dict[str, Any]] = {}
        unsent = self._counters.snapshot()
        for name in dict.fromkeys([*self.contexts, *shared, *unsent]):
            counters: dict[str, Any] = {
                k: v for k, v in shared.get(name, {}).items() if k not in DERIVED_FIELDS
            }
            for field_name, amount in unsent.get(name, {}).items():
                counters[field_name] = counters.get(field_name, 0) + amount
            contexts[name] = derive_counters(counters)
            contexts[name]["ttl_s"] = self.contexts.get(name)
            contexts[name]["bypassed_now"] = bool(pending) and self._pending.blocks(name)
        out: dict[str, Any] = {
            "backend": self.backend.name,
            "contexts": contexts,
            "pending_bumps": pending,
            "degraded": bool(pending) or error is not None,
            "store_error": error,
            "warnings": list(self.warnings),
        }
        used = getattr(self.backend, "used_bytes", None)
        if used is not None:
            out["used_bytes"] = used
        return out

    def _count_error(
        self, kind: str, message: str, exc: BaseException | None = None, context: str = "_cache"
    ) -> None:
        self._counters.add(context, "errors")
        self._log.error(kind, message, exc)

    def close(self) -> None:
        """Stop tracking writes (uninstalling what nothing else uses) and close the store."""
        for tracker in self._trackers:
            tracker.detach(self._on_commit)
        self._trackers = []
        for watcher in self._sessions:
            watcher.close()
        self._sessions = []
        self._counters.flush()
        self.backend.close()
