"""The in-process cache workload on `tiny`: the real cached mode, checked against naive reads."""

from __future__ import annotations

from bench.cache_workload import CACHED_PAGES, planner_markdown, run_planner

from fretes.access import cached
from fretes.access.cached import CACHED_FUNCTIONS


def test_planner_replays_the_cached_mode_without_stale_reads() -> None:
    run = run_planner("tiny", 120, 0.1, 7)
    assert run["reads"] > 0 and run["stale_reads"] == 0
    assert sum(p["reads"] for p in run["pages"].values()) == run["reads"]
    contexts = run["contexts"]
    assert set(contexts) == set(CACHED_PAGES.values())
    # The harness's own page -> context map agrees with the app's table.
    assert {spec.label: spec.context for spec in CACHED_FUNCTIONS} == CACHED_PAGES
    assert sum(c["hits"] for c in contexts.values()) > 0  # repeats were served from the cache
    assert 0 < run["hit_rate"] < 1
    assert any(k.startswith("write 2") for k in run["requests"])


def test_seed_design_takes_the_cached_slot_and_is_put_back() -> None:
    before = {name: getattr(cached, name) for name in cached.CONTEXTS}
    run = run_planner("tiny", 60, 0.1, 7, design="seed")
    assert {name: getattr(cached, name) for name in cached.CONTEXTS} == before
    assert run["contexts"] is None and run["reads"] > 0
    assert "seed design" in planner_markdown([run])
