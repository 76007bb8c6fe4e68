"""The backend interface every cache store implements, and the entry/stamp conventions.

An entry is stored with the stamps it was computed under: ``header`` is
``token=value`` pairs joined by tabs (a token is ``g`` — the store's generation —,
``c:<context>`` or ``t:<table>``). A read returns the payload only when the header carries
every token the reader expects and every stamp in it still has that value; any difference
(or a stamp that has expired) is a miss by invalidation. A write is compare-and-set: it
happens only if the stamps read before computing are still current.

Stamps are integers. A missing stamp is created with a random 62-bit epoch (never 0 or 1),
and a bump increments it (or creates it at a fresh random epoch), so a stamp that expired
and came back can never equal a value an old entry was computed under, except with
probability 2**-62.

A miss says why the entry was not there (``ReadStatus``): never stored (or forgotten long
ago), invalidated, expired, evicted.
"""

from __future__ import annotations

import enum
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from turbina.cache.codec import decode, encode

__all__ = [
    "DERIVED_FIELDS",
    "MISS_CAUSES",
    "NOT_STORED",
    "NO_VALUE",
    "STAT_FIELDS",
    "CacheBackend",
    "NoValue",
    "ReadStatus",
    "derive_counters",
    "fold_legacy",
    "format_header",
    "new_epoch",
]

MISS_CAUSES = (
    "miss_first",  # no entry and no trace of one: first sight of the key (or long forgotten)
    "miss_invalidated",  # the entry's stamps moved: a commit or an invalidation
    "miss_expired",  # the entry outlived its TTL
    "miss_evicted",  # the store dropped it before its TTL (memory cap, Redis maxmemory)
    "miss_error",  # the store failed, or the entry could not be decoded
)
NOT_STORED = (
    "not_stored_learning",  # recorded dependencies grew: the next miss stores
    "not_stored_unknown_deps",  # recorded, but no SQL ran (or on an untracked engine)
    "not_stored_snapshot",  # read in a transaction older than the stamps
    "not_stored_uncommitted",  # the computation wrote without committing
    "not_stored_raced",  # a stamp moved while computing (compare-and-set refused)
    "not_stored_oversize",  # larger than the value cap
    "not_stored_encode",  # the value cannot be encoded (type, nesting)
    "not_stored_response",  # a view response that must not be shared (status, cookie, session)
)
STAT_FIELDS = (
    "hits",
    *MISS_CAUSES,
    *NOT_STORED,
    "bypassed",
    "lock_waits",
    "errors",
    "bytes",
)


class NoValue:
    """Type of ``NO_VALUE``: "nothing cached" (``None``, ``[]`` and ``0`` are values)."""

    _instance: NoValue | None = None

    def __new__(cls) -> NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __bool__(self) -> bool:
        return False


NO_VALUE = NoValue()


class ReadStatus(enum.IntEnum):
    """Outcome of one read."""

    MISS = 0  # never stored, or no trace left
    HIT = 1
    STALE = 2  # an entry existed but a stamp moved (or it lacks one the reader expects)
    EXPIRED = 3
    EVICTED = 4


def new_epoch() -> int:
    """A random starting value for a stamp that does not exist (yet, or any more)."""
    return secrets.randbits(62) | (1 << 32)


def format_header(tokens: Sequence[str], stamps: Sequence[int]) -> str:
    """``t:a=5\\tc:x=9``: the stamps an entry was computed under."""
    return "\t".join(f"{t}={s}" for t, s in zip(tokens, stamps, strict=True))


class CacheBackend(ABC):
    """Storage for entries, stamps, locks and per-context counters."""

    name = "base"
    # How values become payloads: the JSON codec, readable by any process. A store whose
    # bytes never leave the process may use the faster local form (``MemoryBackend``).
    encode_value = staticmethod(encode)
    decode_value = staticmethod(decode)

    @abstractmethod
    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        """Value of ``key`` if it carries every token of ``tokens`` and every stamp it was
        computed under is current, in one round trip (a backend may fetch the expected
        stamps along with the entry). An entry lacking an expected token is ``STALE``."""

    @abstractmethod
    def read_stamps(self, tokens: Sequence[str]) -> list[int]:
        """Current stamps of ``tokens`` (creating missing ones at a random epoch)."""

    @abstractmethod
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
        """Store ``payload`` only if ``tokens`` still have ``stamps`` and every ``guard``
        token still has its stamp (compare-and-set; the guard is checked, not stored in the
        entry). False if a stamp moved (or the value cannot be stored)."""

    @abstractmethod
    def bump(self, tokens: Sequence[str]) -> None:
        """Increment the stamps of ``tokens``: every entry computed under them is stale."""

    @abstractmethod
    def acquire_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        """Take the compute lock of ``key`` unless someone holds it."""

    @abstractmethod
    def lock_held(self, key: str) -> bool:
        """True while someone holds the compute lock of ``key``."""

    @abstractmethod
    def release_lock(self, key: str, token: str) -> None:
        """Release the lock of ``key`` if ``token`` still owns it."""

    @abstractmethod
    def add_stats(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Add ``counts`` (context -> field -> amount) to the shared counters."""

    @abstractmethod
    def read_stats(self, contexts: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counters of ``contexts`` plus every context any process has written to."""

    def read_dynamic(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        """``read`` of an entry whose header holds tokens the reader cannot know in advance
        (row-set scopes); a backend may validate them server-side in one round trip."""
        return self.read(key, context, tokens)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


DERIVED_FIELDS = ("misses", "not_stored", "stale_prevented", "hit_rate", "hit_rate_seen")
# Raw fields of earlier releases still in a store: folded into their closest cause.
_LEGACY_FIELDS = {
    "misses": "miss_first",
    "stale_prevented": "miss_invalidated",
    "oversize": "not_stored_oversize",
}


def fold_legacy(raw: dict[str, Any]) -> dict[str, Any]:
    """Raw counters read from a store, with fields of earlier releases folded in."""
    for old, new in _LEGACY_FIELDS.items():
        amount = raw.pop(old, 0)
        if amount:
            raw[new] = raw.get(new, 0) + amount
    return raw


def derive_counters(counters: dict[str, Any]) -> dict[str, Any]:
    """``counters`` with every field present and the totals and rates recomputed from the raw
    fields: ``misses`` (all causes), ``not_stored`` (all reasons), ``stale_prevented``
    (invalidated entries + refused writes), ``hit_rate`` = hits / (hits + misses) and
    ``hit_rate_seen`` = the same without first sights (the misses that could be avoided)."""
    for field_name in (*MISS_CAUSES, *NOT_STORED):
        counters.setdefault(field_name, 0)
    for field_name in ("hits", "bypassed", "lock_waits", "errors", "bytes"):
        counters.setdefault(field_name, 0)
    misses = sum(counters[f] for f in MISS_CAUSES)
    counters["misses"] = misses
    counters["not_stored"] = sum(counters[f] for f in NOT_STORED)
    counters["stale_prevented"] = counters["miss_invalidated"] + counters["not_stored_raced"]
    hits = counters["hits"]
    looked_up = hits + misses
    seen = looked_up - counters["miss_first"]
    counters["hit_rate"] = round(hits / looked_up, 4) if looked_up else 0.0
    counters["hit_rate_seen"] = round(hits / seen, 4) if seen else 0.0
    return counters
