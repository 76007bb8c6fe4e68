"""Side-by-side modes: per page and mode statistics, ratios to naive, the Markdown sections,
the ``--modes`` option, and the per-run Redis cache's stats and cleanup."""

from __future__ import annotations

import pytest
from bench.loadgen import LoadSpec
from bench.modes import markdown_modes
from bench.report import build_result, markdown_report
from bench.run import parse_args, stats_delta
from bench.runcache import CONTEXTS, run_cache, with_hit_rate
from bench.samples import Sample
from bench.workload import LISTAR, LOGIN, PEDIDOS, W_LOG


def sample(label: str, ms: float, mode: str | None, queries: int = 3) -> Sample:
    return Sample(label, 1000.0, ms, 200, queries, 1.0, ms / 2, None, mode)


def mixed() -> list[Sample]:
    out = [sample(LISTAR, 100.0 + i, "naive", 40) for i in range(10)]
    out += [sample(LISTAR, 50.0 + i, "optimized", 4) for i in range(10)]
    out += [sample(LISTAR, 10.0 + i, "cached", 1) for i in range(10)]
    out += [sample(PEDIDOS, 20.0, "optimized"), sample(W_LOG, 5.0, None), sample(LOGIN, 9.0, None)]
    return out


def test_build_result_groups_pages_per_mode_with_ratios() -> None:
    result = build_result(mixed(), {"scale": "tiny"})
    section = result["by_mode"]
    assert section["modes"] == ["naive", "optimized", "cached"]
    listar = section["pages"][LISTAR]
    assert [listar[m]["requests"] for m in section["modes"]] == [10, 10, 10]
    assert listar["cached"]["queries_per_req"] == 1.0
    assert set(section["pages"]) == {LISTAR, PEDIDOS}  # writes and logins carry no mode
    ratios = section["ratios"][LISTAR]
    assert ratios["optimized/naive"]["p50"] == pytest.approx(54.5 / 104.5, abs=1e-3)
    assert ratios["cached/naive"]["p50"] == pytest.approx(14.5 / 104.5, abs=1e-3)
    assert PEDIDOS not in section["ratios"]  # no naive sample to divide by
    assert result["pages"][LISTAR]["requests"] == 30  # the all-modes table is still there


def test_markdown_shows_modes_ratios_and_cache() -> None:
    result = build_result(mixed(), {"scale": "tiny"})
    result["cache"] = {
        "backend": "redis",
        "prefix": "p",
        "warning": None,
        "stats": {"entregas": with_hit_rate({"hits": 9, "misses": 1})},
    }
    text = markdown_report(result, "run")
    assert "| page | mode | requests |" in text
    assert "| `GET /monitoramento/listar` | cached | 10 |" in text
    assert "cached/naive p50" in text and "0.14×" in text
    assert "| entregas | 10 | 9 | 1 | 0 | 90.0% |" in text
    assert markdown_modes(build_result([sample(LOGIN, 1.0, None)], {})) == ""


def test_modes_option_and_validation() -> None:
    _, spec = parse_args(["--scale", "tiny"])
    assert spec.modes == ("naive", "optimized", "cached")
    _, spec = parse_args(["--scale", "tiny", "--modes", "Naive, cached"])
    assert spec.modes == ("naive", "cached")
    with pytest.raises(ValueError, match="modes must be distinct values"):
        LoadSpec(modes=("naive", "turbo"))


def test_stats_delta_excludes_the_warm_up() -> None:
    before = {"entregas": with_hit_rate({"hits": 5, "misses": 5})}
    after = {"entregas": with_hit_rate({"hits": 95, "misses": 15})}
    delta = stats_delta(before, after)
    assert delta is not None and delta["entregas"]["hit_rate"] == 0.9
    assert stats_delta(before, None) is None


def test_run_cache_reads_shared_stats_and_deletes_its_keys(redis_url: str) -> None:
    import redis

    from turbina import RedisBackend

    client = redis.Redis.from_url(redis_url)
    try:
        with run_cache("unit", ("cached",), redis_url) as cache:
            assert cache.env["TURBINA_CACHE_BACKEND"] == "redis"
            assert cache.env["TURBINA_CACHE_PREFIX"] == cache.prefix
            RedisBackend(client, cache.prefix).add_stats({"entregas": {"hits": 3, "misses": 1}})
            stats = cache.stats()
            assert stats is not None and set(stats) == set(CONTEXTS)
            assert stats["entregas"]["hit_rate"] == 0.75
            assert list(client.scan_iter(match=f"{cache.prefix}:*"))
        assert not list(client.scan_iter(match=f"{cache.prefix}:*"))
    finally:
        client.close()


def test_without_redis_the_cached_mode_runs_on_one_worker() -> None:
    with run_cache("unit", ("naive", "cached"), "redis://127.0.0.1:1/0") as cache:
        assert cache.backend == "memory" and cache.workers == 1
        assert cache.warning is not None and "1 worker" in cache.warning
        assert cache.stats() is None
    with run_cache("unit", ("naive", "optimized"), "redis://127.0.0.1:1/0") as cache:
        assert cache.workers is None
