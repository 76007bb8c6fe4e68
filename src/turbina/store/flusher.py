"""``Flusher``: a worker's background flush of deltas into the store, and at exit.

Every part aggregates in memory; a flusher asks each of its sources to add what changed
since the last flush to a ``Batch`` and writes it with one backend call. One daemon thread
per process runs every flusher when it is due (``interval_s``); a flusher joins it on its
first use in a process (``ensure_started``, after a fork too), so an app that never serves a
request never writes. At exit (``atexit``; gunicorn's worker exit and a SIGTERM to a plain
process end there too) each started flusher flushes once more.

A failed write keeps its batches (merged per minute) and the next flush sends them first;
past ``max_pending_fields`` the oldest are dropped and counted. Nothing here runs on a
request: a dead store costs the background thread one timeout per interval, nothing else.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, Protocol

from turbina.store.backends.base import StoreBackend
from turbina.store.model import MINUTE, SELF, Batch, bucket_of, label_id

__all__ = ["Flusher", "Source", "flush_all", "install_sigterm_flush"]

log = logging.getLogger("turbina.store")

MAX_PENDING_FIELDS = 200_000
_LOG_INTERVAL_S = 60.0
SELF_LABEL = label_id(SELF, ("flusher",))


class Source(Protocol):
    """Something that adds its deltas to a batch (called from the flush thread only)."""

    def collect(self, batch: Batch) -> None:
        """Add what changed since the last call."""


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Flusher:
    """Flushes ``sources`` into ``backend`` every ``interval_s`` seconds, and at exit."""

    def __init__(
        self,
        backend: StoreBackend,
        sources: Iterable[Source] = (),
        *,
        interval_s: float = 5.0,
        gauges: Callable[[], dict[str, Any]] | None = None,
        max_pending_fields: int = MAX_PENDING_FIELDS,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.backend = backend
        self.sources: list[Source] = list(sources)
        self.interval_s = interval_s
        self.gauges = gauges
        self.max_pending_fields = max_pending_fields
        self.pending: list[Batch] = []
        self.flushes = 0
        self.errors = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.last_flush: float | None = None
        self.after_flush: list[Callable[[Batch, bool], None]] = []
        self.worker = worker_name()
        self.due = 0.0
        self._pid: int | None = None
        self._forks = -1  # the fork count when this process joined (-1: not joined)
        self._lock = threading.Lock()
        self._logged_at = -_LOG_INTERVAL_S
        _ALL.add(self)

    @property
    def started(self) -> bool:
        """True once this process used the flusher (it flushes in the background, and at exit)."""
        return self._pid == os.getpid()

    def ensure_started(self) -> None:
        """Join the process's flush thread (cheap when already joined: one comparison, no
        system call — a fork is noticed through the fork counter, not ``getpid()``)."""
        if self._forks != _forks[0]:
            self._start()

    def _start(self) -> None:
        with _SCHEDULER_LOCK:
            if self._pid == os.getpid():
                return
            if self._pid is not None:  # inherited through a fork: the parent's, not ours
                self._after_fork()
            self._pid = os.getpid()
            self._forks = _forks[0]
            self.worker = worker_name()
            self.due = time.monotonic() + self.interval_s
            _scheduler().add(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self.pending = []
        for source in self.sources:
            reset = getattr(source, "after_fork", None)
            if reset is not None:
                reset()

    def flush(self) -> bool:
        """Collect every source and write (with what earlier failures left); True when the
        store took it. Never raises."""
        with self._lock:
            batch = Batch(at=time.time(), worker=self.worker)
            for source in self.sources:
                try:
                    source.collect(batch)
                except Exception as exc:  # a broken source must not stop the others
                    self._log(f"a store source failed ({source.__class__.__name__})", exc)
            if self.gauges is not None:
                try:
                    batch.gauges = self.gauges()
                except Exception as exc:
                    self._log("gauges failed", exc)
            batch.add(
                SELF,
                SELF_LABEL,
                {"flushes": 1, "flush_errors": self.errors, "dropped": self.dropped},
            )
            batch.describe(SELF, SELF_LABEL, {"part": "flusher"})
            self.errors = self.dropped = 0  # sent as deltas with this batch
            batches = self._queue(batch)
            try:
                self.backend.write(batches)
            except Exception as exc:
                self.pending = batches
                self._trim()
                self.errors += 1
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                self._log(f"could not write to the {self.backend.describe()}", exc)
                ok = False
            else:
                self.pending = []
                self.flushes += 1
                self.last_flush = batch.at
                self.last_error = None
                ok = True
        for callback in list(self.after_flush):
            try:
                callback(batch, ok)
            except Exception as exc:
                self._log("an after-flush callback failed", exc)
        return ok

    def _queue(self, batch: Batch) -> list[Batch]:
        if self.pending:
            last = self.pending[-1]
            if bucket_of(last.at, MINUTE) == bucket_of(batch.at, MINUTE):
                batch.absorb(last)
                return [*self.pending[:-1], batch]
        return [*self.pending, batch]

    def _trim(self) -> None:
        total = sum(batch.size() for batch in self.pending)
        while self.pending and total > self.max_pending_fields:
            total -= self.pending.pop(0).size()
            self.dropped += 1

    def _log(self, message: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._logged_at >= _LOG_INTERVAL_S:
            self._logged_at = now
            log.warning("turbina.store: %s: %s: %s", message, exc.__class__.__name__, exc)

    def stop(self, *, flush: bool = True) -> None:
        """Leave the flush thread (after a last flush when started and ``flush``)."""
        if flush and self.started:
            self.flush()
        with _SCHEDULER_LOCK:
            if _SCHEDULER is not None:
                _SCHEDULER.remove(self)
            self._pid = None
            self._forks = -1

    def status(self) -> dict[str, Any]:
        """Health of this worker's flushing, JSON-able."""
        return {
            "backend": self.backend.describe(),
            "interval_s": self.interval_s,
            "started": self.started,
            "flushes": self.flushes,
            "pending_batches": len(self.pending),
            "errors_unsent": self.errors,
            "dropped_unsent": self.dropped,
            "last_flush": self.last_flush,
            "last_error": self.last_error,
        }


class _Scheduler:
    """The one flush thread of a process: runs each flusher when it is due."""

    def __init__(self) -> None:
        self._flushers: weakref.WeakSet[Flusher] = weakref.WeakSet()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="turbina-store-flush", daemon=True)
        self._thread.start()

    def add(self, flusher: Flusher) -> None:
        self._flushers.add(flusher)
        self._wake.set()

    def remove(self, flusher: Flusher) -> None:
        self._flushers.discard(flusher)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            wait = 1.0
            for flusher in list(self._flushers):
                if flusher.due <= now:
                    flusher.flush()
                    flusher.due = time.monotonic() + flusher.interval_s
                wait = min(wait, max(0.0, flusher.due - time.monotonic()))
            self._wake.wait(timeout=max(0.01, wait))
            self._wake.clear()


_ALL: weakref.WeakSet[Flusher] = weakref.WeakSet()
_SCHEDULER: _Scheduler | None = None
_SCHEDULER_LOCK = threading.RLock()


def _scheduler() -> _Scheduler:
    global _SCHEDULER
    if _SCHEDULER is None:
        _SCHEDULER = _Scheduler()
    return _SCHEDULER


_forks = [0]  # forks this process descends from: a flusher joined before one must rejoin


def _reset_after_fork() -> None:
    global _SCHEDULER, _SCHEDULER_LOCK
    _forks[0] += 1
    _SCHEDULER = None  # threads do not survive a fork; the next ensure_started() makes one
    _SCHEDULER_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_reset_after_fork)


def flush_all() -> None:
    """Flush every flusher started in this process (at exit; idempotent enough to call twice)."""
    for flusher in list(_ALL):
        if flusher.started:
            flusher.flush()


atexit.register(flush_all)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    flush_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_flush() -> bool:
    """Flush before dying of SIGTERM, in a process where nobody handles SIGTERM (``flask run``,
    a plain WSGI server). Servers with their own handler (gunicorn turns SIGTERM into a
    graceful exit, which runs ``atexit``) are left alone. True when installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return False
    if current is _on_sigterm:
        return True
    if current not in (signal.SIG_DFL, None):
        return False
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True
