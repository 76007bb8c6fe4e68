"""``StoreBackend``: the interface every store implements, and the merged read built on it.

A backend stores counters per (resolution, bucket, kind, label, field), label descriptions,
capped event lists and each worker's latest gauges; it answers with per-bucket counters and
this class merges them. Every backend passes one shared test suite (tests/store).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from turbina.store.model import (
    EVENT_KINDS,
    GAUGE_RETENTION_S,
    HOUR,
    KINDS,
    MINUTE,
    TOTAL,
    Batch,
    Counters,
    Reading,
    add_counts,
    bucket_of,
    buckets_for,
    resolution_for,
)

__all__ = ["StoreBackend"]

RESOLUTIONS = (MINUTE, HOUR, TOTAL)


class StoreBackend(ABC):
    """Where every worker's flushes meet. ``write`` is called from one background thread per
    process; reads come from any process (the CLI, a scrape, the dashboard)."""

    name = "base"

    @abstractmethod
    def write(self, batches: Sequence[Batch]) -> None:
        """Add every batch to the store in one round trip / transaction; raise on failure
        (the flusher keeps the batches and tries again)."""

    @abstractmethod
    def bucket_counters(
        self, resolution: int, buckets: Sequence[int], kinds: Iterable[str]
    ) -> dict[int, Counters]:
        """Counters of each bucket that exists among ``buckets``."""

    @abstractmethod
    def labels(self, kinds: Iterable[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Descriptions of the labels of ``kinds``."""

    @abstractmethod
    def events(
        self, kinds: Iterable[str], since: float, until: float
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events of ``kinds`` with ``since <= at <= until``, newest first."""

    @abstractmethod
    def worker_gauges(self, since: float) -> dict[str, dict[str, Any]]:
        """The latest gauges of every worker that reported since ``since``."""

    def describe(self) -> str:
        """Where the store is, for messages (no password)."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections."""

    # --- merged reads -------------------------------------------------------------------
    def read(
        self,
        since: float,
        until: float | None = None,
        *,
        kinds: Iterable[str] = KINDS,
        events: Iterable[str] = EVENT_KINDS,
        resolution: int | None = None,
    ) -> Reading:
        """Every worker's counters for ``[since, until]`` (default: until now), merged.

        Minute buckets while the window fits their retention, else hour buckets (a window is
        then widened to whole hours at its start)."""
        now = time.time()
        until = now if until is None else until
        kinds = tuple(kinds)
        res = resolution_for(since, now) if resolution is None else resolution
        per_bucket = self.bucket_counters(res, buckets_for(since, until, res), kinds)
        merged: Counters = {}
        for counters in per_bucket.values():
            for key, fields in counters.items():
                add_counts(merged.setdefault(key, {}), fields)
        wanted = {kind for kind, _label in merged}
        labels = self.labels(wanted) if wanted else {}
        start = since if res != HOUR else bucket_of(since, HOUR) * HOUR
        return Reading(
            since=start,
            until=until,
            resolution=res,
            counters=merged,
            labels=labels,
            events=self.events(tuple(events), start, until) if events else [],
            gauges=self.worker_gauges(now - GAUGE_RETENTION_S),
        )

    def totals(self, kinds: Iterable[str] = KINDS) -> Reading:
        """The running totals (every flush since the store's data began), merged."""
        now = time.time()
        per_bucket = self.bucket_counters(TOTAL, [0], tuple(kinds))
        counters = per_bucket.get(0, {})
        wanted = {kind for kind, _label in counters}
        return Reading(
            since=0.0,
            until=now,
            resolution=TOTAL,
            counters=counters,
            labels=self.labels(wanted) if wanted else {},
            gauges=self.worker_gauges(now - GAUGE_RETENTION_S),
        )

    def series(
        self, kind: str, label: str, since: float, until: float | None = None
    ) -> tuple[int, list[tuple[float, dict[str, int]]]]:
        """``(resolution, [(bucket start, counters)])`` of one label, oldest first; buckets
        without data are left out."""
        now = time.time()
        until = now if until is None else until
        res = resolution_for(since, now)
        per_bucket = self.bucket_counters(res, buckets_for(since, until, res), (kind,))
        points = [
            (float(bucket * res), counters[(kind, label)])
            for bucket, counters in sorted(per_bucket.items())
            if (kind, label) in counters
        ]
        return res, points
