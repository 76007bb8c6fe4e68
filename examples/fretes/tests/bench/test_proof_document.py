"""The proof's benchmark document: its shape (issue #15 contract §1), the numbers it derives
from a phase's samples and store, the targets, and the command line's errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench.document import problems
from bench.openloop import LoadReport, Result
from bench.proof import (
    FORMS,
    Options,
    PhaseRun,
    build_document,
    delta_reading,
    extra_targets,
    markdown,
    parse_args,
    slow_statements,
    view_times,
)
from bench.workload import LISTAR, PEDIDOS

from turbina import TurbinaError
from turbina.queries.histogram import bucket_index
from turbina.store.model import QUERIES, REQUESTS, Reading


def _result(label: str, at: float, ms: float, app: float, **extra: Any) -> Result:
    return Result(
        label,
        label.split(" ", 1)[1],
        at,
        at,
        ms,
        ms,
        200,
        queries=3,
        db_ms=app / 2,
        app_ms=app,
        account="v01",
        **extra,
    )


def _queries(slow: int, fast: int) -> Reading:
    fields = {"n": slow + fast, "us": 1000, f"b{bucket_index(700.0)}": slow}
    fields[f"b{bucket_index(3.0)}"] = fast
    request = {"n": 4, "us": 4000, "ch": 3, "cm": 1, f"b{bucket_index(1.0)}": 4}
    return Reading(
        since=0.0,
        until=60.0,
        resolution=60,
        counters={(QUERIES, "q1"): fields, (REQUESTS, "r1"): request},
        labels={(REQUESTS, "r1"): {"endpoint": "/monitoramento/listar", "method": "GET"}},
    )


def _run(name: str, scale: float, saturation: float, slow: int) -> PhaseRun:
    results = []
    for i in range(40):
        label = LISTAR if i % 2 else PEDIDOS
        results.append(_result(label, 100.0 + i, 100.0 * scale, 40.0 * scale))
    load = LoadReport(results=results, started=100.0, wall_s=40.0)
    sat = LoadReport(
        results=[_result(PEDIDOS, 0.0, 1.0, 1.0) for _ in range(int(saturation * 10))],
        started=0.0,
        wall_s=10.0,
    )
    run = PhaseRun(FORMS[name], saturation=sat, load=load, offered_rps=1.0, workers=2)
    run.reading = _queries(slow, 100)
    run.page_loads = {LISTAR: [300.0, 320.0, 310.0]}
    if name == "cached":
        run.stale = {"checks": 3, "first_mismatches": 0, "confirmed": 0, "errors": 0}
        run.dashboard = {"authorized_status": 200, "anonymous_status": 403}
    return run


@pytest.fixture
def document() -> dict[str, Any]:
    runs = [_run("naive", 10.0, 2.0, 40), _run("cached", 0.1, 20.0, 1)]
    doc = build_document(Options(scale="real"), runs, {})
    doc["dashboard"] = runs[1].dashboard
    return doc


def test_the_document_follows_the_contract(document: dict[str, Any]) -> None:
    assert problems(document) == []
    assert document["before"] == "naive" and document["after"] == "cached"
    naive, cached = document["phases"]
    assert naive["queries_over_500ms"] == 40 and cached["queries_over_500ms"] == 1
    assert naive["statements"] == 140
    assert naive["saturation_rps"] == 2.0 and cached["saturation_rps"] == 20.0
    assert cached["stale_reads"] == 0 and naive["stale_reads"] is None
    listar = next(p for p in naive["pages"] if p["page"] == LISTAR)
    assert listar["requests"] == 20 and listar["client_ms"]["p50"] == 1000.0
    assert listar["server_ms"]["p95"] == 400.0 and listar["queries_mean"] == 3.0
    assert listar["cache_hit_rate"] == 0.75  # the store's endpoint row: 3 hits, 1 miss
    assert listar["page_load_ms"] == {"p50": 310.0, "p95": 319.0, "samples": 3}


def test_problems_name_what_is_missing_or_wrong(document: dict[str, Any]) -> None:
    broken = dict(document)
    broken["after"] = "nothing"
    assert problems(broken) == ["$.after: 'nothing' names none of the phases ['naive', 'cached']"]
    phase = dict(document["phases"][0])
    del phase["statements"]
    phase["errors"] = "0"
    broken = {**document, "phases": [phase]}
    found = problems(broken)
    assert "$.phases[0].statements: missing" in found
    assert "$.phases[0].errors: expected int, got str" in found


def test_turbina_report_reads_the_document(document: dict[str, Any]) -> None:
    from turbina.report import build_report

    report = build_report(benchmark=document)
    names = {check.name: check for check in report.checklist}
    assert names["queries > 500 ms eliminated"].passed is True  # 40 -> 1: 97.5 %
    assert names["dashboard working"].passed is True
    assert report.verdict


def test_targets_say_what_was_missed(document: dict[str, Any]) -> None:
    targets = {t["name"]: t for t in extra_targets(document)}
    assert targets[">500 ms statements eliminated"]["passed"] is True
    assert targets["throughput at saturation vs naive"]["passed"] is True  # 10x
    mean = targets["mean response across the workload vs naive"]
    assert mean["passed"] is True and mean["measured"].startswith("100.0x")
    cached = targets["every seed page p95 server time, cached"]
    assert cached["passed"] is True  # 4 ms <= 5 ms
    uncached = targets["every seed page p95 server time, uncached (optimized)"]
    assert uncached["passed"] is None and uncached["measured"] == "phase not run"
    text = markdown(document, extra_targets(document), [], None, Path("/nonexistent"))
    assert "| naive |" in text and "Missed: none." in text


def test_delta_reading_keeps_only_the_window() -> None:
    before = _queries(2, 10)
    after = _queries(5, 30)
    window = delta_reading(before, after, 10.0, 70.0)
    assert slow_statements(window, 500.0) == (3, 23)
    assert window.seconds == 60.0


def test_a_view_lasts_until_its_lazy_parts_are_back() -> None:
    page = _result(LISTAR, 10.0, 50.0, 5.0)
    part = Result(
        "GET /monitoramento/badges",
        "/monitoramento/badges",
        10.05,
        10.05,
        30.0,
        30.0,
        200,
        parent=LISTAR,
        account="v01",
    )
    views = view_times([page, part])
    assert views == {("v01", 10.0): pytest.approx(80.0)}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--db", "mysql"], "--db 'mysql'"),
        (["--scale", "huge"], "--scale 'huge'"),
        (["--phases", "naive,fast"], "--phases"),
        (["--duration", "0"], "--duration must be > 0"),
        (["--saturation", "0"], "--saturation 0 leaves no throughput"),
        (["--rate", "-1"], "--rate must be > 0"),
    ],
)
def test_bad_options_are_one_line_with_the_fix(argv: list[str], message: str) -> None:
    with pytest.raises(TurbinaError) as caught:
        parse_args(argv)
    assert message in caught.value.message and caught.value.fix
    assert "\n" not in caught.value.message


def test_main_exits_1_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.proof import main

    assert main(["--db", "oracle"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: --db 'oracle'") and err[1].startswith("fix: ")
