"""One daemon thread per process for the caches' periodic work, and their work at exit.

Jobs are bound methods held weakly (a cache that is garbage-collected drops out); each returns
the seconds until it wants to run again (``None``: only when woken). The thread sleeps until
the earliest job is due or ``wake()`` is called, so an idle process costs nothing but a timed
wait; shared counters of an idle process still reach the store, and a failed stamp bump is
retried promptly instead of on the writer's next call. At interpreter exit every job's
``at_exit`` runs once (the last counts are flushed, pending bumps get a final try). After
``fork()`` the child starts its own thread on first use (gunicorn's ``--preload``).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

__all__ = ["register", "wake"]

log = logging.getLogger("turbina.cache")

_MAX_JOBS = 10_000
_IDLE_S = 30.0

Job = Callable[[], "float | None"]


class _Runner:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.jobs: list[
            tuple[weakref.WeakMethod[Job], weakref.WeakMethod[Callable[[], None]] | None]
        ] = []
        self.due: dict[int, float] = {}
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def register(self, job: Job, at_exit: Callable[[], None] | None = None) -> None:
        with self.lock:
            self.jobs = [entry for entry in self.jobs if entry[0]() is not None]
            if len(self.jobs) >= _MAX_JOBS:
                raise RuntimeError("too many live caches in this process")
            self.jobs.append(
                (weakref.WeakMethod(job), weakref.WeakMethod(at_exit) if at_exit else None)
            )
            self._ensure_thread()
        self.event.set()

    def _ensure_thread(self) -> None:
        if self.pid != os.getpid():  # forked: the parent's thread does not exist here
            self.pid = os.getpid()
            self.thread = None
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="turbina-cache", daemon=True)
            self.thread.start()

    def wake(self) -> None:
        with self.lock:
            self._ensure_thread()
        self.event.set()

    def _run(self) -> None:
        while True:
            self.event.clear()
            wait = _IDLE_S
            with self.lock:
                jobs = list(self.jobs)
            now = time.monotonic()
            for ref, _ in jobs:
                job = ref()
                if job is None:
                    continue
                try:
                    after = job()
                except Exception:
                    log.exception("turbina.cache: a background job failed")
                    after = 1.0
                del job
                if after is not None:
                    wait = min(wait, max(0.01, after))
            self.event.wait(max(0.0, wait - (time.monotonic() - now)))

    def at_exit(self) -> None:
        with self.lock:
            jobs = list(self.jobs)
        for _, ref in jobs:
            final = ref() if ref is not None else None
            if final is not None:
                try:
                    final()
                except Exception:
                    log.exception("turbina.cache: work at exit failed")


_runner = _Runner()
atexit.register(_runner.at_exit)


def _after_fork() -> None:
    _runner.lock = threading.Lock()
    _runner.event = threading.Event()
    _runner.thread = None
    _runner.pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def register(job: Job, at_exit: Callable[[], None] | None = None) -> None:
    """Run the bound method ``job`` in the background thread (again after the seconds it
    returns) and ``at_exit`` once when the interpreter exits. Both are held weakly."""
    _runner.register(job, at_exit)


def wake() -> None:
    """Run the jobs now (a bump just failed, counts piled up)."""
    _runner.wake()
