"""The ``null`` backend: stores nothing, so every call computes (``TURBINA_CACHE_BACKEND=null``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from turbina.cache.backends.base import NO_VALUE, CacheBackend, NoValue, ReadStatus

__all__ = ["NullBackend"]


class NullBackend(CacheBackend):
    """A store that is always empty."""

    name = "null"

    def read(
        self, key: str, context: str, tokens: Sequence[str] = ()
    ) -> tuple[ReadStatus, bytes | NoValue]:
        return ReadStatus.MISS, NO_VALUE

    def read_stamps(self, tokens: Sequence[str]) -> list[int]:
        return [0 for _ in tokens]

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
        return False

    def bump(self, tokens: Sequence[str]) -> None:
        return None

    def acquire_lock(self, key: str, token: str, ttl_ms: int) -> bool:
        return True

    def lock_held(self, key: str) -> bool:
        return False

    def release_lock(self, key: str, token: str) -> None:
        return None

    def add_stats(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        return None

    def read_stats(self, contexts: Sequence[str]) -> dict[str, dict[str, int]]:
        return {}
