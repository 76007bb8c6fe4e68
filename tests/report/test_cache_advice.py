"""The cache-advice model: its formula, checked against a simulation, and the advice it gives."""

from __future__ import annotations

import math
import random

import pytest

from turbina.queries.tables import written_table
from turbina.report.cache_advice import (
    advise,
    entry_lifetime,
    hit_rate,
    suggested_ttl,
    write_rates,
)


def test_entry_lifetime_and_hit_rate_numbers() -> None:
    assert entry_lifetime(0.0, 60) == 60
    assert entry_lifetime(0.1, 60) == pytest.approx((1 - math.exp(-6)) / 0.1)
    assert hit_rate(1.0, 0.0, 60) == pytest.approx(60 / 61)
    assert hit_rate(1.0, 0.1, 60) == pytest.approx(9.975212 / 10.975212, rel=1e-6)
    assert hit_rate(0.01, 1.0, 3600) == pytest.approx(0.01 / 1.01)


def _simulate(r: float, w: float, ttl: float, horizon: float, seed: int = 7) -> float:
    """Poisson reads and writes on one key; a read hits when the entry is younger than the
    TTL and no write came since it was stored."""
    rng = random.Random(seed)
    events = []
    t = 0.0
    while (t := t + rng.expovariate(r)) < horizon:
        events.append((t, "r"))
    t = 0.0
    while w and (t := t + rng.expovariate(w)) < horizon:
        events.append((t, "w"))
    events.sort()
    stored: float | None = None
    hits = reads = 0
    for at, kind in events:
        if kind == "w":
            stored = None
            continue
        reads += 1
        if stored is not None and at - stored < ttl:
            hits += 1
        else:
            stored = at
    return hits / reads


@pytest.mark.parametrize(("r", "w", "ttl"), [(1.0, 0.1, 60), (0.2, 0.05, 30), (2.0, 0.0, 5)])
def test_the_formula_matches_a_simulation(r: float, w: float, ttl: float) -> None:
    simulated = _simulate(r, w, ttl, horizon=40_000 / r)
    assert hit_rate(r, w, ttl) == pytest.approx(simulated, abs=0.01)


def test_suggested_ttl() -> None:
    assert suggested_ttl(0.0) == 3600
    assert suggested_ttl(0.01) == 300  # 3/w
    assert suggested_ttl(1.0) == 60  # never under a minute


def test_written_tables_from_fingerprints() -> None:
    assert written_table("insert into entregas (id, status) values (?, ?)") == "entregas"
    assert written_table('update "usuarios" set nome = ? where id = ?') == "usuarios"
    assert written_table("delete from comentarios where id in (?)") == "comentarios"
    assert written_table("select * from entregas") is None
    assert written_table("insert into broken (((") is None
    rows = [
        {"fingerprint": "insert into entregas (id) values (?)", "calls": 30},
        {"fingerprint": "update entregas set status = ? where id = ?", "calls": 30},
        {"fingerprint": "select * from entregas", "calls": 1000},
    ]
    assert write_rates(rows, 60.0) == {"entregas": 1.0}


def _endpoint(name: str, calls: int, mean_ms: float, method: str = "GET") -> dict[str, object]:
    return {
        "endpoint": name,
        "method": method,
        "calls": calls,
        "mean_ms": mean_ms,
        "errors": 0,
        "cache_hits": 0,
        "cache_misses": 0,
    }


def test_a_hot_read_endpoint_without_writes_is_worth_caching() -> None:
    seconds = 600.0
    (finding,) = advise([_endpoint("/relatorio", 600, 40.0)], [], [], seconds, lambda n: n * 6)
    assert finding.evidence["ttl_s"] == 3600
    predicted = hit_rate(1.0, 0.0, 3600)
    assert finding.evidence["predicted_hit_rate"] == pytest.approx(predicted, abs=1e-4)
    assert finding.saved_ms_per_hour == pytest.approx(predicted * 40.0 * 3600)
    assert finding.code is not None and "ttl=3600" in finding.code


def test_an_endpoint_whose_tables_change_faster_than_it_is_read_is_not() -> None:
    writes = [{"fingerprint": "update entregas set status = ? where id = ?", "calls": 6000}]
    found = advise([_endpoint("/lista", 60, 40.0)], writes, [], 600.0, lambda n: n * 6)
    (finding,) = found
    assert finding.title.startswith("do not cache GET /lista")
    assert finding.saved_ms_per_hour == 0
    assert "entregas" in finding.fix


def test_writes_and_slow_and_already_cached_endpoints_get_no_endpoint_advice() -> None:
    cached = dict(_endpoint("/c", 600, 40.0), cache_hits=10, cache_misses=2)
    rows = [_endpoint("/w", 600, 40.0, "POST"), _endpoint("/fast", 600, 0.5), cached]
    assert advise(rows, [], [], 600.0, lambda n: n * 6) == []


@pytest.mark.parametrize(
    ("cause", "words"),
    [
        ("miss_invalidated", "scoped("),
        ("miss_expired", "TTL"),
        ("miss_evicted", "memory"),
        ("miss_first", "coarser"),
    ],
)
def test_a_cached_context_below_the_target_is_told_why(cause: str, words: str) -> None:
    context = {"context": "entregas", "hits": 40, "misses": 60, "hit_rate": 0.4, cause: 60}
    endpoint = dict(_endpoint("/e", 100, 20.0), cache_hits=40, cache_misses=60)
    (finding,) = advise([endpoint], [], [context], 600.0, lambda n: n * 6)
    assert words in finding.fix
    assert finding.saved_ms_per_hour == pytest.approx(60 * 6 * 20.0)


def test_a_context_meeting_the_target_gets_no_finding() -> None:
    context = {"context": "ok", "hits": 90, "misses": 10, "hit_rate": 0.9, "miss_first": 10}
    assert advise([], [], [context], 600.0, lambda n: n) == []
