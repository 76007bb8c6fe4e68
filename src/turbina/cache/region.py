"""The cache policy: ``TurbinaCache`` with ``cached()``, ``invalidate()``, ``stats()``.

One call of a cached function:
1. bump what this thread committed and has not bumped yet (a thread reads its own writes);
   bypass the cache if this thread holds uncommitted writes or a bump is pending;
2. read the entry and validate its stamps in one round trip — a hit is decoded and returned;
3. on a miss take the compute lock (or wait a bounded time for the holder, then read again);
4. read the stamps of the context and of the tables the function depends on *before*
   computing; compute (recording the tables read when ``depends_on`` is omitted);
5. write with compare-and-set against those stamps: a commit that landed meanwhile makes
   the write a no-op, so no stale entry can be stored.
Store errors never fail the call: a read error is a miss (and the store is left alone for
``retry_after_s``), a write error is counted; both are logged at a bounded rate.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from turbina.cache import reads
from turbina.cache.backends.base import CacheBackend, ReadStatus
from turbina.cache.codec import decode, encode
from turbina.cache.keys import KeyMaker
from turbina.cache.locks import ComputeLock
from turbina.cache.spec import CacheSpec, Uncacheable, check_context, dependency_tables
from turbina.cache.stamps import PendingBumps, context_token, table_token
from turbina.cache.stats import LocalCounters, RateLimitedLog
from turbina.cache.tracking import WriteTracker, shared_tracker

__all__ = ["CacheSpec", "TurbinaCache", "Uncacheable", "dependency_tables"]  # re-exported

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("turbina.cache")

DEFAULT_TTL_S = 300


class TurbinaCache:
    """Context cache with stamp-based invalidation over one ``CacheBackend``.

    ``contexts`` maps context names to TTL seconds; a context first used without one gets
    ``DEFAULT_TTL_S``. Call
    ``track_session_writes()`` (all engines and sessions) or pass specific engines/session
    factories so committed writes invalidate what depends on them.
    """

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
    ) -> None:
        self.backend = backend
        self.retry_after_s = retry_after_s
        self._store_down_until = 0.0
        self.contexts: dict[str, int] = dict(contexts or {})
        for name in self.contexts:
            check_context(name)
        self.namespace = namespace
        self.max_value_bytes = max_value_bytes
        self.lock_timeout_ms = lock_timeout_ms
        self.enabled = enabled
        self._specs: dict[tuple[Any, ...], tuple[CacheSpec, KeyMaker]] = {}
        self._specs_lock = threading.Lock()
        self._log = RateLimitedLog(log)
        self._counters = LocalCounters(backend.add_stats)
        self._pending = PendingBumps(backend.bump, self._every_context_token)
        self.tracker = WriteTracker()
        self.tracker.subscribe(self._on_commit)
        self._trackers: list[WriteTracker] = [self.tracker]
        reads.install_read_recorder()

    # --- configuration ----------------------------------------------------------------
    def track_session_writes(self, target: Any = None) -> None:
        """Invalidate on committed writes through ``target``: an ``Engine``, a ``Session``
        class, ``sessionmaker`` or ``scoped_session``; ``None`` tracks every engine and
        session of the process (one shared set of listeners for all caches)."""
        if target is None:
            shared = shared_tracker()
            if shared not in self._trackers:
                shared.subscribe(self._on_commit)
                self._trackers = [*self._trackers, shared]
        else:
            self.tracker.track(target)

    def _every_context_token(self) -> list[str]:
        return [context_token(c) for c in self.contexts]

    def _on_commit(self, tables: set[str]) -> None:
        if not self._pending.bump(table_token(t) for t in tables):
            self._count_error(
                "bump",
                f"could not bump stamps of tables {sorted(tables)}; "
                "every context is bypassed until a retry succeeds",
            )

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
        declared = None if depends_on is None else dependency_tables(depends_on)
        memo_key = (func, context, declared, ttl, lock, extra)
        found = self._specs.get(memo_key)
        if found is not None:
            return found
        check_context(context)
        with self._specs_lock:
            if context not in self.contexts:
                self.contexts[context] = ttl or DEFAULT_TTL_S
            keys = KeyMaker(func, self.namespace, context, extra)
            spec = CacheSpec(
                context, ttl or self.contexts[context], keys.function, declared, lock=lock
            )
            self._specs[memo_key] = (spec, keys)
            return spec, keys

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
        entries; when omitted, the tables the function actually read are recorded.
        """
        check_context(context)
        deps = None if depends_on is None else list(depends_on)

        def decorator(func: F) -> F:
            resolved: list[tuple[CacheSpec, KeyMaker]] = []

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not resolved:  # on first call, so depends_on may name models defined later
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
        if reads.active() and spec.declared is None:
            # Inside another cached computation that records its reads: run for real so the
            # outer entry learns this function's tables too.
            return func(*args, **kwargs)
        key = keys.key(args, kwargs)  # TypeError for an un-keyable argument: a caller bug
        result = self.get_or_create(spec, key, lambda: func(*args, **kwargs))
        return result.value if isinstance(result, Uncacheable) else result

    def get_or_create(self, spec: CacheSpec, key: str, creator: Callable[[], Any]) -> Any:
        """The cached value of ``key`` in ``spec.context``, computing it with ``creator``."""
        context = spec.context
        if spec.declared is not None:
            reads.note_tables(spec.declared)
        bypass = False
        for tracker in self._trackers:
            bypass = tracker.before_read() or bypass
        if (
            bypass
            or not self.enabled
            or self._pending.blocks(context)
            or (self._store_down_until and time.monotonic() < self._store_down_until)
        ):
            self._counters.add(context, "bypassed")
            return creator()
        logical = context + ":" + key
        counters = self._counters
        try:
            status, payload = self.backend.read(logical, context, spec.tokens())
        except Exception as exc:
            # Fail open, and leave the store alone for a moment: a dead or partitioned Redis
            # must not cost every request a connection attempt (or a timeout).
            self._store_down_until = time.monotonic() + self.retry_after_s
            self._count_error("read", f"cache read failed in context {context!r}", exc, context)
            counters.add(context, "misses")
            return creator()
        self._store_down_until = 0.0
        if status is ReadStatus.HIT:
            counters.add(context, "hits")
            try:
                return decode(payload)  # type: ignore[arg-type]
            except Exception as exc:
                self._count_error(
                    "decode", f"undecodable entry in context {context!r}", exc, context
                )
        else:
            counters.add(context, "misses" if status is ReadStatus.MISS else "stale_prevented")
        return self._compute(spec, logical, creator)

    def _compute(self, spec: CacheSpec, logical: str, creator: Callable[[], Any]) -> Any:
        context = spec.context
        lock = ComputeLock(self.backend, logical, self.lock_timeout_ms) if spec.lock else None
        try:
            if lock is not None and not lock.acquire():
                self._counters.add(context, "lock_waits")
                if lock.wait():
                    status, payload = self.backend.read(logical, context, spec.tokens())
                    if status is ReadStatus.HIT:
                        return decode(payload)  # type: ignore[arg-type]
                lock.acquire()
        except Exception as exc:
            self._count_error("lock", f"cache lock failed in context {context!r}", exc, context)
            return creator()
        try:
            return self._compute_locked(spec, logical, creator)
        finally:
            if lock is not None:
                try:
                    lock.release()
                except Exception as exc:
                    self._count_error("lock", "cache lock release failed", exc, context)

    def _compute_locked(self, spec: CacheSpec, logical: str, creator: Callable[[], Any]) -> Any:
        context = spec.context
        tokens = spec.tokens()
        try:
            stamps = self.backend.read_stamps(tokens)
        except Exception as exc:
            self._count_error("stamps", f"stamp read failed in context {context!r}", exc, context)
            return creator()
        if spec.declared is None:
            with reads.recording() as tables:
                value = creator()
            unseen = tables.difference(spec.learned)
            if unseen:
                # These tables' stamps were not read before computing: not safe to store now;
                # the next miss reads them first.
                spec.learn(unseen)
                return value
        else:
            value = creator()
        if isinstance(value, Uncacheable):
            return value
        if any(tracker.has_uncommitted_writes() for tracker in self._trackers):
            # The computation wrote without committing: its value may include a dirty read.
            self._counters.add(context, "bypassed")
            return value
        try:
            payload = encode(value)
        except TypeError as exc:
            self._count_error("encode", f"{spec.name} returned an uncacheable value", exc, context)
            return value
        if len(payload) > self.max_value_bytes:
            self._counters.add(context, "oversize")
            return value
        try:
            if self.backend.write(logical, context, payload, tokens, stamps, spec.ttl_s):
                self._counters.add(context, "bytes", len(payload))
            else:  # a stamp moved while computing: the value may already be stale
                self._counters.add(context, "stale_prevented")
        except Exception as exc:
            self._count_error("write", f"cache write failed in context {context!r}", exc, context)
        return value

    # --- invalidation and stats -------------------------------------------------------
    def invalidate(self, context: str) -> bool:
        """Make every entry of ``context`` stale (one INCR). False if the store failed; the
        context is then bypassed in this process until a retry succeeds."""
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

    def stats(self) -> dict[str, Any]:
        """Counters per context (shared by every process on the same store), plus health."""
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
            counters: dict[str, Any] = dict(shared.get(name, {}))
            for field_name, amount in unsent.get(name, {}).items():
                counters[field_name] = counters.get(field_name, 0) + amount
            looked_up = (
                counters.get("hits", 0)
                + counters.get("misses", 0)
                + counters.get("stale_prevented", 0)
            )
            counters["hit_rate"] = (
                round(counters.get("hits", 0) / looked_up, 4) if looked_up else 0.0
            )
            counters["ttl_s"] = self.contexts.get(name)
            counters["bypassed_now"] = bool(pending) and self._pending.blocks(name)
            contexts[name] = counters
        out: dict[str, Any] = {
            "backend": self.backend.name,
            "contexts": contexts,
            "pending_bumps": pending,
            "degraded": bool(pending) or error is not None,
            "store_error": error,
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
        """Stop tracking writes and close the store."""
        self.tracker.close()
        self._counters.flush()
        self.backend.close()
