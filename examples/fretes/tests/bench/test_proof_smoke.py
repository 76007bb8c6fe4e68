"""Two short phases of the proof on `tiny`: real gunicorn servers, the open-loop generator in
its own process, each phase's own store, and a document ``turbina.report`` accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.document import problems
from bench.proof import Options, run_phases, write_outputs
from bench.workload import PAGES

pytestmark = pytest.mark.slow


def test_two_short_phases_on_tiny(tmp_path: Path) -> None:
    options = Options(
        scale="tiny",
        phases=("naive", "cached"),
        duration_s=6.0,
        saturation_s=3.0,
        users=4,
        threads=2,
        warmup=5,
        page_loads=0,
        cache="memory",  # no service needed: one worker, the per-process cache
        results_dir=tmp_path / "results",
        work_dir=tmp_path / "work",
        data_dir=tmp_path / "data",
        name="smoke",
    )
    lines: list[str] = []
    doc, runs = run_phases(options, lines.append)
    assert problems(doc) == []
    naive, cached = doc["phases"]
    for phase in (naive, cached):
        assert phase["errors"] == 0, phase["error_examples"]
        assert phase["saturation_rps"] and phase["saturation_rps"] > 0
        assert phase["offered_rps"] == naive["offered_rps"]  # one rate for every phase
        assert phase["statements"] > 0  # the phase's store saw the open-loop run
        assert {p["page"] for p in phase["pages"]} & set(PAGES)
    assert cached["cache"] and cached["cache"]["lookups"] > 0
    assert cached["stale_reads"] == 0 and naive["stale_reads"] is None
    assert {p["page"] for p in cached["pages"]} - set(PAGES)  # the lazy parts' own rows
    assert doc["dashboard"] == {"authorized_status": 200, "anonymous_status": 403}
    # Same plan in both phases: the same planned requests.
    assert naive["planned_requests"] == cached["planned_requests"]
    assert runs[0].reading is not None and (tmp_path / "work").exists()

    write_outputs(doc, options, lines.append, show=False)
    saved = json.loads((tmp_path / "results" / "smoke.json").read_text())
    assert saved["checklist"] and saved["verdict"]
    assert (tmp_path / "results" / "smoke.md").read_text().startswith("# Before/after")
