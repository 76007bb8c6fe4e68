"""The whole harness on `tiny`: a real gunicorn server, a real Locust run, a real result, with
the three page modes side by side and the cached mode on a per-run Redis prefix."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bench.catalog import build_catalog
from bench.datasets import ensure_sqlite, sqlite_copy
from bench.loadgen import KNOWN_MODES, LoadSpec, run_load
from bench.modes import markdown_modes
from bench.report import ALL, build_result, run_metadata, write_result
from bench.runcache import CONTEXTS, run_cache
from bench.server import Server
from bench.workload import LISTAR, PAGES, WRITES

from bench import serve
from fretes.datagen import DEMO_PASSWORD, REFERENCE_DATE

pytestmark = pytest.mark.slow


def cache_keys(redis_url: str, prefix: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()


def test_tiny_run_measures_every_page_and_mode_without_errors(
    tmp_path: Path, redis_url: str
) -> None:
    dataset = ensure_sqlite("tiny", 42, directory=tmp_path)
    assert dataset.build_seconds is not None
    # A second call reuses the dataset instead of rebuilding it.
    assert ensure_sqlite("tiny", 42, directory=tmp_path).build_seconds is None

    with sqlite_copy(dataset) as url:
        catalog = build_catalog(url, DEMO_PASSWORD, REFERENCE_DATE)
        assert catalog.accounts and catalog.vendedores and catalog.open_entregas_by_vendedor
        spec = LoadSpec(
            users=3, max_requests=150, duration_s=90, write_ratio=0.15, seed=1, modes=KNOWN_MODES
        )
        with run_cache("smoke", spec.modes, redis_url) as cache:
            assert cache.backend == "redis" and cache.workers is None
            with Server(
                url, workers=2, threads=1, log_path=tmp_path / "gunicorn.log", extra_env=cache.env
            ) as server:
                outcome = run_load(server.url, catalog, spec, log=tmp_path / "locust.log")
                time.sleep(1.2)  # the workers' last stats flush
                stats = cache.stats()
            assert cache_keys(redis_url, cache.prefix)
        assert not cache_keys(redis_url, cache.prefix)  # the run's keys are deleted
    assert not Path(url.removeprefix("sqlite:///")).exists()  # the working copy is gone

    samples = outcome.samples
    result = build_result(samples, run_metadata(scale="tiny", db="sqlite", users=spec.users))
    pages = result["pages"]
    recorded = [s for s in samples if s.label in PAGES or s.label in WRITES]
    assert len(recorded) == spec.max_requests  # the request budget is exact
    errors = {label: row["error_messages"] for label, row in pages.items() if row["errors"]}
    assert not errors
    for page in PAGES:
        row = pages[page]
        assert row["requests"] > 0, page
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], page
        assert row["queries_per_req"] > 0 and row["db_ms_per_req"] > 0, page
    assert any(label in pages for label in WRITES)
    assert pages[ALL]["requests"] == len(samples)

    by_mode = result["by_mode"]
    assert by_mode["modes"] == list(KNOWN_MODES)
    for page, modes in by_mode["pages"].items():
        assert set(modes) <= set(KNOWN_MODES), page
        for mode, row in modes.items():
            assert row["requests"] > 0 and row["errors"] == 0, (page, mode)
    assert set(by_mode["ratios"][LISTAR]) == {"optimized/naive", "cached/naive"}
    assert stats is not None and set(stats) == set(CONTEXTS)
    assert sum(row["lookups"] for row in stats.values()) > 0
    result["cache"] = {"backend": cache.backend, "prefix": cache.prefix, "stats": stats}
    assert "| context | lookups |" in markdown_modes(result)

    json_path, md_path = write_result(result, "smoke", tmp_path)
    assert set(json.loads(json_path.read_text())["pages"]) >= set(PAGES)
    assert "| page | requests | p50 ms |" in md_path.read_text()


def test_serve_refuses_a_bad_port_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        serve.main(["--port", "70000"])
    assert stop.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("--port 70000 is not a TCP port (1-65535)")
    )
