"""``LatencyHistogram``: log-spaced buckets with integer counts, mergeable by addition.

Bucket ``i`` holds values in ``(2**((i-1)/8), 2**(i/8)]`` (ratio 2^(1/8) ≈ 1.09), so a
percentile read at the bucket's geometric centre is within ~4.4% of the true value. Counts
are plain integers: histograms from threads, workers and hosts merge by adding counts, and
serialize to a small JSON-able dict. Values are unit-free; Turbina records milliseconds.
Framework-free on purpose (no Flask, no SQLAlchemy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

BUCKETS_PER_DOUBLING = 8
# Values at or below this go to the lowest bucket (1 ns when recording milliseconds).
MIN_VALUE = 1e-6
_MIN_INDEX = math.ceil(math.log2(MIN_VALUE) * BUCKETS_PER_DOUBLING)
_log2 = math.log2
_ceil = math.ceil


def bucket_index(value: float) -> int:
    """Index of the bucket holding ``value``."""
    if value <= MIN_VALUE:
        return _MIN_INDEX
    return _ceil(_log2(value) * BUCKETS_PER_DOUBLING)


def bucket_upper(index: int) -> float:
    """Upper bound of bucket ``index``."""
    return float(2.0 ** (index / BUCKETS_PER_DOUBLING))


def bucket_mid(index: int) -> float:
    """Geometric centre of bucket ``index`` (the value percentiles report)."""
    return float(2.0 ** ((index - 0.5) / BUCKETS_PER_DOUBLING))


class LatencyHistogram:
    """Sparse log-bucket histogram with exact count, sum, min and max."""

    __slots__ = ("buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def record(self, value: float) -> None:
        """Add one observation."""
        index = _MIN_INDEX if value <= MIN_VALUE else _ceil(_log2(value) * BUCKETS_PER_DOUBLING)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        if value < self.min:
            self.min = value

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s observations to this histogram (in place)."""
        buckets = self.buckets
        for index, count in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + count
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float:
        """Arithmetic mean (0.0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """Estimated ``q``-th percentile (0 < q <= 100); 0.0 when empty.

        The result is clamped to the exact [min, max], so p0/p100 are exact.
        """
        if not 0 <= q <= 100:
            raise ValueError("q must be within [0, 100]")
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(max(bucket_mid(index), self.min), self.max)
        return self.max

    def percentiles(self, *qs: float) -> dict[float, float]:
        """Several percentiles in one call: ``{q: value}``."""
        return {q: self.percentile(q) for q in qs}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; ``from_dict(to_dict())`` round-trips exactly."""
        return {
            "buckets_per_doubling": BUCKETS_PER_DOUBLING,
            "buckets": {str(index): count for index, count in sorted(self.buckets.items())},
            "count": self.count,
            "total": self.total,
            "min": self.min if self.count else None,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyHistogram:
        """Rebuild a histogram serialized by ``to_dict``."""
        if data.get("buckets_per_doubling", BUCKETS_PER_DOUBLING) != BUCKETS_PER_DOUBLING:
            raise ValueError("histogram was built with a different bucket ratio")
        histogram = cls()
        histogram.buckets = {int(index): int(count) for index, count in data["buckets"].items()}
        histogram.count = int(data["count"])
        histogram.total = float(data["total"])
        histogram.min = math.inf if data.get("min") is None else float(data["min"])
        histogram.max = float(data["max"])
        return histogram

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self.count}, p50={self.percentile(50):.3g}, max={self.max:.3g})"
