"""LatencyHistogram: percentiles within the bucket error, exact merge, serialization."""

from __future__ import annotations

import json
import math
import random

import pytest

from turbina.queries.histogram import LatencyHistogram, bucket_index, bucket_upper

REL_ERROR = 2 ** (1 / 16) - 1 + 1e-9  # half a bucket of ratio 2^(1/8)


def _reference(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_match_sorted_reference(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(0, 2) for _ in range(20_000)]
    hist = LatencyHistogram()
    for value in values:
        hist.record(value)
    for q in (1, 10, 50, 90, 95, 99, 99.9, 100):
        expected = _reference(values, q)
        assert abs(hist.percentile(q) - expected) <= expected * REL_ERROR, q
    assert hist.count == len(values)
    assert hist.total == pytest.approx(sum(values))
    assert hist.max == max(values) and hist.min == min(values)


def test_bucket_bounds() -> None:
    for value in (0.003, 0.5, 1.0, 1.07, 250.0, 1e6):
        index = bucket_index(value)
        assert bucket_upper(index - 1) < value <= bucket_upper(index) * (1 + 1e-12)


def test_merge_equals_recording_everything_once() -> None:
    rng = random.Random(7)
    parts = [[rng.expovariate(0.1) for _ in range(1000)] for _ in range(4)]
    merged, whole = LatencyHistogram(), LatencyHistogram()
    for part in parts:
        hist = LatencyHistogram()
        for value in part:
            hist.record(value)
            whole.record(value)
        merged.merge(hist)
    assert merged.buckets == whole.buckets
    assert merged.count == whole.count
    assert merged.percentile(95) == whole.percentile(95)


def test_round_trip_through_json() -> None:
    hist = LatencyHistogram()
    for value in (0.0, 0.2, 3.0, 3.1, 900.0):
        hist.record(value)
    again = LatencyHistogram.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert again.buckets == hist.buckets and again.count == 5 and again.max == 900.0
    assert again.min == 0.0
    empty = LatencyHistogram.from_dict(LatencyHistogram().to_dict())
    assert empty.count == 0 and empty.percentile(50) == 0.0


def test_bad_ratio_rejected() -> None:
    data = LatencyHistogram().to_dict()
    data["buckets_per_doubling"] = 4
    with pytest.raises(ValueError):
        LatencyHistogram.from_dict(data)
