"""Stale-read checker of the cached phase: is a page served from the cache what the database
says now?

While the load runs, every ``interval_s`` the checker takes the most recently served page
(as the account that got it), fetches it as served (the server's ``cached`` form) and
uncached (``X-Fretes-Mode: optimized``; the benchmark server has ``FRETES_MODE_HEADER=1``),
and compares the bodies with the per-response tokens stripped (CSRF tokens, CSP nonces).
A mismatch is fetched again, both ways, once: a write that landed between the two first
fetches changes both, a stale entry keeps differing. Only mismatches that survive the
recheck count as stale reads. Exports are skipped (an xlsx file carries its build time).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.openloop import Result, Sender

FRESH_MODE = "optimized"
MAX_EXAMPLES = 5
RECENT = 64
_TOKENS = (
    re.compile(rb'(name="csrf_token"\s+value=")[^"]*(")'),
    re.compile(rb'(name="csrf-token"\s+content=")[^"]*(")'),
    re.compile(rb'(nonce=")[^"]*(")'),
)


def normalize(body: bytes) -> bytes:
    """``body`` without the values that differ on every response (CSRF tokens, nonces)."""
    for pattern in _TOKENS:
        body = pattern.sub(rb"\1-\2", body)
    return body


@dataclass
class Verdict:
    """One check of one page."""

    target: str
    first_mismatch: bool
    confirmed: bool
    detail: str | None = None


def first_difference(a: bytes, b: bytes, context: int = 60) -> str:
    """Where two bodies first differ, a short excerpt of each."""
    index = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if index is None:
        index = min(len(a), len(b))
    lo = max(0, index - context)
    return (
        f"at byte {index}: served {a[lo : index + context]!r} / fresh {b[lo : index + context]!r}"
    )


def check_page(target: str, fetch: Callable[[bool], bytes]) -> Verdict:
    """Compare ``fetch(False)`` (as served) with ``fetch(True)`` (uncached); recheck once."""
    served, fresh = normalize(fetch(False)), normalize(fetch(True))
    if served == fresh:
        return Verdict(target, False, False)
    served, fresh = normalize(fetch(False)), normalize(fetch(True))
    if served == fresh:
        return Verdict(target, True, False)
    return Verdict(target, True, True, first_difference(served, fresh))


@dataclass
class StaleChecker:
    """Runs ``check_page`` on the latest served page every ``interval_s`` in a thread."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    interval_s: float = 2.0
    recent: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=RECENT))
    verdicts: list[Verdict] = field(default_factory=list)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._served = Sender(self.base, self.cookies, fragments=False)
        self._fresh = Sender(self.base, self.cookies, mode=FRESH_MODE, fragments=False)

    def offer(self, result: Result, _body: bytes) -> None:
        """A page the load just got (called from the load's threads)."""
        if "/exportar" in result.path or result.account is None:
            return
        target = result.path + (f"?{result.query}" if result.query else "")
        with self._lock:
            self.recent.append((target, result.account))

    def check_latest(self) -> Verdict | None:
        """Check the most recently offered page, once."""
        with self._lock:
            if not self.recent:
                return None
            target, account = self.recent.pop()
        if account not in self._served.cookies:
            return None

        def fetch(fresh: bool) -> bytes:
            sender = self._fresh if fresh else self._served
            status, _headers, body, _sent = sender.fetch("GET", target, account)
            if status != 200:
                raise RuntimeError(f"{target} answered {status}")
            return body

        verdict = check_page(target, fetch)
        self.verdicts.append(verdict)
        return verdict

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_latest()
            except Exception:  # a failed fetch is counted, never a crash of the load
                self.errors += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stale-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._served.http.close()
        self._fresh.http.close()

    def summary(self) -> dict[str, Any]:
        """Checks made, first mismatches, confirmed stale reads, a few examples."""
        confirmed = [v for v in self.verdicts if v.confirmed]
        return {
            "checks": len(self.verdicts),
            "first_mismatches": sum(1 for v in self.verdicts if v.first_mismatch),
            "confirmed": len(confirmed),
            "errors": self.errors,
            "examples": [
                {"target": v.target, "detail": v.detail} for v in confirmed[:MAX_EXAMPLES]
            ],
        }
