"""The backend interface every cache store implements, and the entry/stamp conventions.

An entry is stored with the stamps it was computed under: ``header`` is
``token=value`` pairs joined by tabs (a token is ``c:<context>`` or ``t:<table>``). A read
returns the payload only when every stamp in the header still has that value; any
difference (or a stamp that has expired) is a miss counted as ``stale_prevented``. A write is
compare-and-set: it happens only if the stamps read before computing are still current.

Stamps are integers. A missing stamp is created with a random 62-bit epoch (never 0 or 1),
and a bump increments it (or creates it at a fresh random epoch), so a stamp that expired
and came back can never equal a value an old entry was computed under, except with
probability 2**-62.
"""

from __future__ import annotations

import enum
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

__all__ = [
    "NO_VALUE",
    "STAT_FIELDS",
    "CacheBackend",
    "NoValue",
    "ReadStatus",
    "format_header",
    "new_epoch",
]

STAT_FIELDS = (
    "hits",
    "misses",
    "stale_prevented",
    "lock_waits",
    "errors",
    "bytes",
    "oversize",
    "bypassed",
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

    MISS = 0
    HIT = 1
    STALE = 2  # an entry existed but a stamp moved: counted as stale_prevented


def new_epoch() -> int:
    """A random starting value for a stamp that does not exist (yet, or any more)."""
    return secrets.randbits(62) | (1 << 32)


def format_header(tokens: Sequence[str], stamps: Sequence[int]) -> str:
    """``t:a=5\\tc:x=9``: the stamps an entry was computed under."""
    return "\t".join(f"{t}={s}" for t, s in zip(tokens, stamps, strict=True))


class CacheBackend(ABC):
    """Storage for entries, stamps, locks and per-context counters."""

    name = "base"

    @abstractmethod
    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        """Value of ``key`` if every stamp it was computed under is current, in one round
        trip. ``tokens`` are the stamps the caller expects the entry to carry (a backend may
        fetch them along with the entry)."""

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
    ) -> bool:
        """Store ``payload`` only if ``tokens`` still have ``stamps`` (compare-and-set).
        False if a stamp moved (or the value cannot be stored)."""

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

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
