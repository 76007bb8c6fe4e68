"""In-process backend: a byte-bounded LRU with the same stamp, CAS and lock semantics as Redis.

One lock guards everything, so each operation is atomic like a Lua script. Stamps have no
TTL here: there is one per table and one per context, a bounded number, and they live as
long as the process (as the entries do). Keys dropped by the LRU or by their TTL are
remembered (a bounded ghost list) so a later miss can say why it missed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from turbina.cache.backends.base import (
    NO_VALUE,
    STAT_FIELDS,
    CacheBackend,
    NoValue,
    ReadStatus,
    derive_counters,
    fold_legacy,
    new_epoch,
)
from turbina.cache.codec import decode_local, encode_local

__all__ = ["MemoryBackend"]

# Rough per-entry bookkeeping cost counted against the byte cap besides key and payload.
_ENTRY_OVERHEAD = 200
_MAX_LOCKS = 10_000
_MAX_GHOSTS = 20_000
_MISS = (ReadStatus.MISS, NO_VALUE)
_STALE = (ReadStatus.STALE, NO_VALUE)
_EXPIRED = (ReadStatus.EXPIRED, NO_VALUE)
_HIT = ReadStatus.HIT
_monotonic = time.monotonic


class MemoryBackend(CacheBackend):
    """Thread-safe, byte-bounded LRU store for one process."""

    name = "memory"
    encode_value = staticmethod(encode_local)
    decode_value = staticmethod(decode_local)

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # key -> [tokens, stamps, payload, expires_at, size, version checked]
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()
        self._bytes = 0
        self._stamps: dict[str, int] = {}
        # Moves whenever any stamp does: an entry whose stamps were found current at this
        # version is still current, and a hit skips comparing them again.
        self._version = 0
        self._locks: dict[str, tuple[str, float]] = {}
        self._stats: dict[str, dict[str, int]] = {}
        self._ghosts: OrderedDict[str, ReadStatus] = OrderedDict()

    @property
    def used_bytes(self) -> int:
        """Bytes currently charged against ``max_bytes``."""
        return self._bytes

    def _count(self, context: str, field: str, amount: int = 1) -> None:
        counters = self._stats.get(context)
        if counters is None:
            counters = self._stats[context] = dict.fromkeys(STAT_FIELDS, 0)
        counters[field] = counters.get(field, 0) + amount

    def _drop(self, key: str, cause: ReadStatus | None = None) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[4]
            if cause is not None:
                ghosts = self._ghosts
                ghosts[key] = cause
                ghosts.move_to_end(key)
                if len(ghosts) > _MAX_GHOSTS:
                    ghosts.popitem(last=False)

    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        with self._lock:
            entries = self._entries
            entry = entries.get(key)
            if entry is None:
                cause = self._ghosts.pop(key, None)
                return _MISS if cause is None else (cause, NO_VALUE)
            held, expected, payload, expires_at, _, checked = entry
            if expires_at <= _monotonic():
                self._drop(key)
                return _EXPIRED
            if held != tokens and not set(tokens).issubset(held):
                # Computed by a cache that knew fewer dependencies: it must carry every
                # stamp this reader expects (and the ones it has must be current).
                self._drop(key)
                return _STALE
            if checked != self._version:
                stamps_get = self._stamps.get
                for token, stamp in zip(held, expected, strict=False):  # built together
                    if stamps_get(token) != stamp:
                        self._drop(key)
                        return _STALE
                entry[5] = self._version
            entries.move_to_end(key)
            return _HIT, payload

    def read_stamps(self, tokens: Sequence[str]) -> list[int]:
        with self._lock:
            out = []
            for token in tokens:
                stamp = self._stamps.get(token)
                if stamp is None:
                    stamp = self._stamps[token] = new_epoch()
                    self._version += 1
                out.append(stamp)
            return out

    def write(
        self,
        key: str,
        context: str,
        payload: bytes,
        tokens: Sequence[str],
        stamps: Sequence[int],
        ttl_s: int,
        guard: Sequence[tuple[str, int]] = (),
    ) -> bool:
        # The header counts too: a row-set entry may carry up to MAX_ROWS stamp tokens.
        size = len(payload) + len(key) + _ENTRY_OVERHEAD + sum(len(t) + 16 for t in tokens)
        with self._lock:
            for token, stamp in (*zip(tokens, stamps, strict=True), *guard):
                if self._stamps.get(token) != stamp:
                    return False
            if size > self.max_bytes:
                return False
            self._drop(key)
            self._ghosts.pop(key, None)
            self._entries[key] = [
                tuple(tokens),
                tuple(stamps),
                payload,
                time.monotonic() + ttl_s,
                size,
                self._version,  # every stamp was just compared under the lock
            ]
            self._bytes += size
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._entries))
                self._drop(oldest, ReadStatus.EVICTED)
            return True

    def bump(self, tokens: Sequence[str]) -> None:
        with self._lock:
            self._version += 1
            for token in tokens:
                current = self._stamps.get(token)
                self._stamps[token] = new_epoch() if current is None else current + 1

    def acquire_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[1] > now:
                return False
            if len(self._locks) >= _MAX_LOCKS:
                self._locks = {k: v for k, v in self._locks.items() if v[1] > now}
                if len(self._locks) >= _MAX_LOCKS:
                    return False  # too many computations in flight: compute without a lock
            self._locks[key] = (token, now + ttl_ms / 1000)
            return True

    def lock_held(self, key: str) -> bool:
        with self._lock:
            held = self._locks.get(key)
            return held is not None and held[1] > time.monotonic()

    def release_lock(self, key: str, token: str) -> None:
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[0] == token:
                del self._locks[key]

    def add_stats(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        with self._lock:
            for context, fields in counts.items():
                for field, amount in fields.items():
                    self._count(context, field, amount)

    def read_stats(self, contexts: Sequence[str]) -> dict[str, dict[str, int]]:
        with self._lock:
            names = dict.fromkeys([*contexts, *self._stats])
            return {
                name: derive_counters(
                    fold_legacy(dict(self._stats.get(name) or dict.fromkeys(STAT_FIELDS, 0)))
                )
                for name in names
            }
