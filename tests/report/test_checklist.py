"""The seed's checklist from a benchmark document: pass, fail and not measured."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from turbina.errors import TurbinaError
from turbina.report import build_report
from turbina.report.checklist import check_benchmark, from_benchmark, verdict


def _page(name: str, server_p95: float, db: float, load: float | None) -> dict[str, Any]:
    return {
        "page": name,
        "requests": 80,
        "errors": 0,
        "client_ms": {"p50": 1.0, "p95": server_p95 + 1, "p99": 3.0, "mean": 1.2},
        "server_ms": {"p50": 1.0, "p95": server_p95, "p99": 3.0, "mean": 1.2},
        "db_ms_mean": db,
        "queries_mean": 3.0,
        "cache_hit_rate": None,
        "page_load_ms": None if load is None else {"p50": load / 2, "p95": load, "samples": 5},
    }


def benchmark() -> dict[str, Any]:
    """A document as contract §1 describes it: everything met."""
    return {
        "kind": "turbina.benchmark",
        "version": 1,
        "meta": {"db": "sqlite", "scale": "real", "method": "one phase per form"},
        "before": "naive",
        "after": "cached",
        "phases": [
            {
                "name": "naive",
                "db_ms_mean": 120.0,
                "queries_over_500ms": 10,
                "queries_over_1s": 3,
                "cache": None,
                "pages": [_page("GET /monitoramento/listar", 400.0, 110.0, 1500.0)],
            },
            {
                "name": "cached",
                "db_ms_mean": 4.0,
                "queries_over_500ms": 1,
                "queries_over_1s": 0,
                "cache": {"lookups": 100, "hits": 90, "hit_rate": 0.9, "misses_by_cause": {}},
                "pages": [_page("GET /monitoramento/listar", 5.0, 3.0, 300.0)],
            },
        ],
        "dashboard": {"authorized_status": 200, "anonymous_status": 403},
    }


def _results(doc: dict[str, Any]) -> dict[str, bool | None]:
    return {c.name: c.passed for c in from_benchmark(check_benchmark(doc))}


def test_everything_met_but_the_tests_which_a_benchmark_cannot_tell() -> None:
    results = _results(benchmark())
    assert results == {
        "DB response": True,
        "page load": True,
        "cache hit rate": True,
        "queries > 1 s": True,
        "queries > 500 ms eliminated": True,
        "dashboard working": True,
        "all tests passing": None,
    }
    report = build_report(benchmark=benchmark())
    assert report.verdict == "6 of 7 seed criteria met; not measured: all tests passing"
    tests = next(c for c in report.checklist if c.name == "all tests passing")
    assert "make test" in tests.note


def test_misses_are_named_with_their_value() -> None:
    doc = benchmark()
    after = doc["phases"][1]
    after["db_ms_mean"] = 69.0
    after["cache"] = {"hit_rate": 0.54, "misses_by_cause": {"miss_invalidated": 40}}
    after["queries_over_1s"] = 2
    after["pages"][0]["page_load_ms"] = None
    doc["dashboard"] = {"authorized_status": 200, "anonymous_status": 200}  # exposed
    results = _results(doc)
    assert results["DB response"] is False
    assert results["cache hit rate"] is False
    assert results["queries > 1 s"] is False
    assert results["page load"] is None
    assert results["dashboard working"] is False
    line = verdict(from_benchmark(doc))
    assert line.startswith("1 of 7 seed criteria met; missed: DB response 69.0 ms")
    assert "cache hit rate 54.0 % (> 85 %)" in line
    assert "not measured: page load, all tests passing" in line


@pytest.mark.parametrize(
    ("before", "after", "passed"),
    [(10, 2, True), (10, 3, False), (0, 0, None), (0, 2, False), (5, 0, True)],
)
def test_the_80_percent_rule(before: int, after: int, passed: bool | None) -> None:
    doc = benchmark()
    doc["phases"][0]["queries_over_500ms"] = before
    doc["phases"][1]["queries_over_500ms"] = after
    assert _results(doc)["queries > 500 ms eliminated"] is passed


def test_a_cache_phase_without_lookups_is_not_measured() -> None:
    doc = benchmark()
    doc["phases"][1]["cache"] = None
    assert _results(doc)["cache hit rate"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(kind="other"), "not a benchmark document"),
        (lambda d: d.update(after="missing"), "'after' ('missing') names none of its phases"),
        (lambda d: d.update(phases={}), "'phases' is not a list"),
    ],
)
def test_a_malformed_document_is_one_error(change: Any, message: str) -> None:
    doc = copy.deepcopy(benchmark())
    change(doc)
    with pytest.raises(TurbinaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_report(benchmark=doc)


def test_without_a_benchmark_the_store_tells_what_it_can(reading: Any) -> None:
    report = build_report(reading=reading)
    results = {c.name: c.passed for c in report.checklist}
    assert results["DB response"] is True  # SQLite on a tiny dataset
    assert results["cache hit rate"] is False  # every read of /cached follows a write
    assert results["queries > 1 s"] is True
    assert results["page load"] is None and results["queries > 500 ms eliminated"] is None


_ODD: list[Any] = ["x", [], {}, None, -1, True, 1e309]


@pytest.mark.parametrize("value", _ODD, ids=repr)
def test_odd_values_anywhere_give_a_report_or_one_error(value: Any) -> None:
    """Every field of a phase and of its page replaced in turn: a report, or a TurbinaError."""
    from turbina.report import render_html, render_markdown, render_text

    base = benchmark()
    paths: list[tuple[Any, ...]] = [("phases", 1, key) for key in base["phases"][1]]
    paths += [("phases", 1, "pages", 0, key) for key in base["phases"][1]["pages"][0]]
    paths += [("meta",), ("dashboard",), ("before",)]
    for path in paths:
        doc = copy.deepcopy(base)
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        try:
            report = build_report(benchmark=doc)
        except TurbinaError:
            continue
        for render in (render_text, render_markdown, render_html):
            assert render(report)
