"""System gauges of one worker, sampled in the flush thread, never on a request.

CPU is the process's CPU time over wall time between two samples (no
``cpu_percent(interval=1)``: nothing sleeps to measure it); the rest is read from ``/proc``
where it exists (Linux), else from ``resource`` and ``os``. Pool numbers come from each
engine's pool (``QueuePool.size()``, ``checkedout()``, ``overflow()``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SystemSampler", "pool_stats"]

_PROC = "/proc/self"


def _rss_bytes() -> int | None:
    try:
        with open(f"{_PROC}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # peak, not current
    except (ImportError, OSError):
        return None


def _open_files() -> int | None:
    try:
        return len(os.listdir(f"{_PROC}/fd"))
    except OSError:
        return None


def _memory() -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                name, _, rest = line.partition(":")
                if name in ("MemTotal", "MemAvailable"):
                    found[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return {
        "memory_total_bytes": found.get("MemTotal", 0),
        "memory_available_bytes": found.get("MemAvailable", 0),
    }


def pool_stats(engine: Any) -> dict[str, int] | None:
    """``size``, ``checked_out``, ``checked_in``, ``overflow`` of a pooled engine (None for
    pools without them, e.g. SQLite's ``NullPool``/``StaticPool``)."""
    pool = getattr(engine, "pool", None)
    out: dict[str, int] = {}
    for name, method in (
        ("size", "size"),
        ("checked_out", "checkedout"),
        ("checked_in", "checkedin"),
        ("overflow", "overflow"),
    ):
        call = getattr(pool, method, None)
        if call is None:
            continue
        try:
            out[name] = int(call())
        except Exception:  # a pool that cannot say (disposed, or no such notion)
            continue
    return out or None


class SystemSampler:
    """``sample()`` returns this worker's gauges; ``engines()`` names the engines to report."""

    def __init__(self, engines: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.engines = engines
        self._last = (time.monotonic(), self._cpu_seconds())

    @staticmethod
    def _cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> dict[str, Any]:
        """The gauges now (JSON-able)."""
        now, cpu = time.monotonic(), self._cpu_seconds()
        last_wall, last_cpu = self._last
        self._last = (now, cpu)
        wall = now - last_wall
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "cpu_percent": round(100.0 * (cpu - last_cpu) / wall, 2) if wall > 0 else 0.0,
            "rss_bytes": _rss_bytes(),
            "open_files": _open_files(),
            "threads": threading.active_count(),
            **_memory(),
        }
        with contextlib.suppress(OSError):
            out["load_1m"] = round(os.getloadavg()[0], 2)
        pools: dict[str, dict[str, int]] = {}
        if self.engines is not None:
            for name, engine in list(self.engines().items()):
                stats = pool_stats(engine)
                if stats is not None:
                    pools[name] = stats
        out["pools"] = pools
        return out

    def after_fork(self) -> None:
        """Restart the CPU clock in the child."""
        self._last = (time.monotonic(), self._cpu_seconds())
