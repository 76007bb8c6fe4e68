"""Stampede control: one process computes a missing entry, the others wait a bounded time.

The lock is ``SET key token NX PX ttl`` (or the memory equivalent) and is released by
compare-and-delete, so a holder whose lock expired can never delete its successor's lock.
A waiter polls with a growing interval until the lock is gone or ``timeout_ms`` has
passed, then computes anyway: a stuck or dead holder costs a bounded wait, never a hang.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from turbina.cache.backends.base import CacheBackend

__all__ = ["ComputeLock"]

_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05


class ComputeLock:
    """The compute lock of one entry."""

    __slots__ = ("_backend", "_key", "_timeout_ms", "owned", "token")

    def __init__(self, backend: CacheBackend, key: str, timeout_ms: int) -> None:
        self._backend = backend
        self._key = key
        self._timeout_ms = timeout_ms
        self.token = secrets.token_hex(8)
        self.owned = False

    def acquire(self) -> bool:
        """Try once; True if this caller now computes the entry."""
        self.owned = self._backend.acquire_lock(self._key, self.token, self._timeout_ms)
        return self.owned

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Wait until the holder releases the lock (True) or the timeout passes (False)."""
        deadline = time.monotonic() + self._timeout_ms / 1000
        interval = _FIRST_POLL_S
        while time.monotonic() < deadline:
            if not self._backend.lock_held(self._key):
                return True
            sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * 2, _MAX_POLL_S)
        return False

    def release(self) -> None:
        """Release if still owned (compare-and-delete)."""
        if self.owned:
            self.owned = False
            self._backend.release_lock(self._key, self.token)
