"""Findings from a real store filled by a real Flask + SQLite app, ranked across kinds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turbina.report import build_report, render_text
from turbina.report.findings import index_findings, rank
from turbina.report.inputs import Facts, from_reading
from turbina.report.model import Finding
from turbina.store.model import Reading

from .app import SECRET
from .conftest import BOOKS_REQUESTS


def _by_kind(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def test_every_kind_the_traffic_shows_is_found_and_ranked(reading: Reading) -> None:
    report = build_report(reading=reading)
    kinds = {f.kind for f in report.findings}
    assert {"nplusone", "repeated", "slow_query", "cache"} <= kinds, kinds
    saved = [f.saved_ms_per_hour for f in report.findings]
    assert saved == sorted(saved, reverse=True)
    assert SECRET not in json.dumps(report.to_json())  # fingerprints only, no literal


def test_the_nplusone_finding_has_the_loader_the_call_site_and_its_estimate(
    reading: Reading,
) -> None:
    report = build_report(reading=reading)
    (n1,) = _by_kind(report.findings, "nplusone")
    assert "Book.author" in n1.title
    assert n1.code is not None and "Book.author" in n1.code and "load(" in n1.code
    assert n1.where is not None and "app.py" in n1.where
    assert n1.evidence["requests"] == BOOKS_REQUESTS
    loads = n1.evidence["loads_per_request"]
    assert loads == 20  # 40 books of 20 authors: each author loaded once per request
    # requests/h x (loads-1)/loads x DB ms of the loads per request, from the evidence
    per_hour = BOOKS_REQUESTS * 3600 / reading.seconds
    expected = per_hour * (loads - 1) / loads * n1.evidence["db_ms_of_loads_per_request"]
    assert n1.saved_ms_per_hour == pytest.approx(expected, rel=0.01)  # evidence is rounded
    assert n1.saved_ms_per_hour > 0


def test_repeated_statements_are_not_relationship_loads(reading: Reading) -> None:
    report = build_report(reading=reading)
    repeated = _by_kind(report.findings, "repeated")
    subjects = " ".join(f.title for f in repeated)
    assert "select email from r_author where id = ?" in subjects
    assert all("Book.author" not in f.title for f in repeated)


def test_slow_statements_are_flagged_and_plans_are_said_to_be_missing(reading: Reading) -> None:
    report = build_report(reading=reading)
    slow = _by_kind(report.findings, "slow_query")
    assert any("with recursive" in f.title for f in slow)
    assert all("create table" not in f.title for f in slow)  # DDL is not a finding
    assert all(f.code or "no plan" in " ".join(f.notes) for f in slow)


def test_explain_plans_the_slow_selects_generically(served: tuple[Any, Reading]) -> None:
    app, reading = served
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        report = build_report(reading=reading, engine=engine)
    planned = [p for p in report.plans if p["fingerprint"].startswith("with recursive")]
    assert planned and planned[0]["plan"], report.plans
    assert any("SCAN" in line or "c" in line for line in planned[0]["plan"])
    slow = next(f for f in report.findings if f.title.endswith(planned[0]["fingerprint"]))
    assert slow.code is not None and "no plan" not in " ".join(slow.notes)


def test_endpoints_table_gives_each_share_of_the_time(reading: Reading) -> None:
    report = build_report(reading=reading)
    shares = [row["share"] for row in report.endpoints]
    assert sum(shares) == pytest.approx(1.0, abs=0.01)
    assert shares == sorted(shares, reverse=True)
    assert {"GET /books", "GET /slow"} <= {row["endpoint"] for row in report.endpoints}


def test_the_cached_context_gets_advice_on_its_misses(reading: Reading) -> None:
    report = build_report(reading=reading)
    context = next(f for f in _by_kind(report.findings, "cache") if f.where == "pages")
    assert context.evidence["miss_invalidated"] > 0
    assert "scoped(" in context.fix


def test_index_advice_is_ranked_with_the_rest(reading: Reading) -> None:
    facts = from_reading(reading)
    slow = next(q for q in facts.queries if q["fingerprint"].startswith("with recursive"))
    advice = {
        "format": 1,
        "report": {
            "base_cost": 1000.0,
            "cost_unit": "cost",
            "indexes": [
                {
                    "ddl": "CREATE INDEX ix_big ON big (x)",
                    "table": "big",
                    "columns": ["x"],
                    "size_bytes": 8192,
                    "benefit": 900.0,
                    "write_cost": 12.0,
                    "queries": [{"sql": slow["fingerprint"], "before": 1000.0, "after": 100.0}],
                }
            ],
        },
        "lines": [],
    }
    report = build_report(reading=reading, index_advice=advice)
    (index,) = _by_kind(report.findings, "index")
    per_hour_ms = slow["total_ms"] * 3600 / reading.seconds
    assert index.saved_ms_per_hour == pytest.approx(0.9 * per_hour_ms, rel=1e-3)
    assert index.code == "CREATE INDEX ix_big ON big (x)"
    assert "+1.2 %" in index.fix  # its write cost against the workload's
    # 90 % of the slow statement's time beats the time above 20 ms of that statement alone
    position = report.findings.index(index)
    assert all(f.saved_ms_per_hour <= index.saved_ms_per_hour for f in report.findings[position:])


def test_rank_puts_the_largest_saving_first_whatever_its_kind() -> None:
    small = Finding("nplusone", "a", {}, "fix", 10.0, "f")
    large = Finding("cache", "b", {}, "fix", 500.0, "f")
    middle = Finding("index", "c", {}, "fix", 50.0, "f")
    assert [f.title for f in rank([small, large, middle])] == ["b", "c", "a"]


def test_a_snapshot_is_read_too(tmp_path: Any) -> None:
    snapshot = {
        "db_total_ms": 100.0,
        "queries": [
            {
                "engine": "main",
                "fingerprint": "select * from t where a = ?",
                "calls": 200,
                "total_ms": 90.0 * 200,
                "mean_ms": 90.0,
                "p50_ms": 90.0,
                "p95_ms": 95.0,
                "p99_ms": 99.0,
                "max_ms": 120.0,
                "rows": 200,
                "plan": {"nodes": ["SCAN t"], "warnings": []},
            }
        ],
        "findings": [
            {
                "kind": "lazy_load",
                "subject": "Author.books",
                "loads": 12,
                "total_ms": 6.0,
                "callsite": "app.py:10",
                "fix": "selectinload(Author.books)",
                "endpoint": "/authors",
                "requests": 4,
                "total_loads": 48,
                "max_loads": 12,
                "first_seen": 1000.0,
                "last_seen": 4600.0,
            }
        ],
        "slow_log": [],
    }
    report = build_report(snapshot=snapshot)
    assert report.window_s == 3600.0
    n1 = next(f for f in report.findings if f.kind == "nplusone")
    # 4 requests/h x 11/12 x (6 ms / 12 loads x 12 loads per request)
    assert n1.saved_ms_per_hour == pytest.approx(4 * 11 / 12 * 6.0)
    slow = next(f for f in report.findings if f.kind == "slow_query")
    assert slow.saved_ms_per_hour == pytest.approx(200 * (90 - 20))
    assert slow.code == "SCAN t"
    assert report.findings[0] is slow
    assert "Top 2 of 2" in render_text(report)


@pytest.mark.postgres
def test_generic_plans_on_postgresql(pg_url: str) -> None:
    import sqlalchemy as sa

    from turbina.report.plans import explain_all

    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE r_entrega (id int primary key, status text)"))
        plans = explain_all(
            engine,
            [
                "select * from r_entrega where status = ? order by id",
                "select * from r_missing where a = ?",
                "update r_entrega set status = ?",  # never planned: not a read
            ],
        )
    finally:
        engine.dispose()
    assert list(plans) == [
        "select * from r_entrega where status = ? order by id",
        "select * from r_missing where a = ?",
    ]
    assert any(
        "r_entrega" in line
        for line in plans["select * from r_entrega where status = ? order by id"]
    )
    assert plans["select * from r_missing where a = ?"][0].startswith(
        "(no plan: the database refused"
    )


def test_an_index_helping_statements_the_window_lacks_never_saves_more_than_its_db_time() -> None:
    """The advice's per-statement costs are per call (plan cost units) while its base cost
    weighs the whole workload: their ratio is no share of anything. An unmatched statement
    takes the index's benefit share of the advised workload instead, bounded by the DB time."""
    facts = Facts(
        source="test",
        window_s=3600.0,
        queries=[{"fingerprint": "select * from other where x = ?", "total_ms": 10.0}],
        db_total_ms=1000.0,  # 1 s of DB time in the hour
    )
    advice = {
        "base_cost": 50.0,
        "cost_unit": "cost",
        "indexes": [
            {
                "ddl": "CREATE INDEX ix ON t (a)",
                "table": "t",
                "columns": ["a"],
                "benefit": 20.0,  # 40 % of the advised workload
                "write_cost": 0.0,
                "queries": [{"sql": "SELECT * FROM t WHERE a = ?", "before": 900.0, "after": 1.0}],
            }
        ],
    }
    [finding] = index_findings(facts, advice)
    assert finding.saved_ms_per_hour == pytest.approx(400.0)  # 40 % x 1,000 DB ms/h
    assert "40.0% of the advised workload's cost" in finding.formula
    assert finding.notes and "not in the window" in finding.notes[0]


def test_an_advised_statement_is_found_by_its_fingerprint_whatever_its_rendering() -> None:
    fingerprint = "select t.a from t where t.a = ? and t.b is ?"
    facts = Facts(
        source="test",
        window_s=3600.0,
        queries=[{"fingerprint": fingerprint, "total_ms": 300.0}],
        db_total_ms=1000.0,
    )
    advice = {
        "base_cost": 50.0,
        "indexes": [
            {
                "ddl": "CREATE INDEX ix ON t (a)",
                "table": "t",
                "columns": ["a"],
                "benefit": 20.0,
                "queries": [
                    {
                        "sql": "SELECT t.a FROM t WHERE t.a = ? AND t.b IS FALSE",  # re-rendered
                        "fingerprint": fingerprint,
                        "before": 10.0,
                        "after": 2.5,
                    }
                ],
            }
        ],
    }
    [finding] = index_findings(facts, advice)
    assert finding.saved_ms_per_hour == pytest.approx(225.0)  # 75 % of its 300 ms/h
    assert not finding.notes
