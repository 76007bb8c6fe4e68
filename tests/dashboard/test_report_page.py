"""The Report page: the Performance Optimizer over the dashboard's window, on the report tests'
real Flask + SQLite app (an N+1 page, a repeated statement, a slow statement, a cached page, a
table named ``<script>…``) after its traffic and one flush."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

import turbina
from app_teardown import close
from report.app import EVIL, SECRET, make_app
from report.conftest import BOOKS_REQUESTS, serve
from turbina.errors import TurbinaError
from turbina.flask.dashboard import report as report_page
from turbina.flask.dashboard.blueprint import CSP
from turbina.flask.dashboard.panels import without_prefix
from turbina.flask.report_inputs import app_inputs, slow_rules
from turbina.indexes.saved import report_path, save_report
from turbina.report import build_report

ADMIN = {"X-Report-Admin": "yes"}
EVIL_RULE = "/evil-rule/<script>"
URLS = ["/_turbina/report", "/_turbina/api/report", "/_turbina/report/download"]


def is_admin(request: Any) -> bool:
    return bool(request.headers.get("X-Report-Admin") == "yes")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, SQLAlchemy]]:
    """The report app with the dashboard open to ``ADMIN``, after its traffic, flushed."""
    tmp = tmp_path_factory.mktemp("dashreport")
    app, db = make_app(tmp, TURBINA_DASHBOARD_AUTH=is_admin)

    @app.get(EVIL_RULE)
    def evil_rule(script: str) -> Any:  # the url rule itself holds "<script>"
        return {"ok": script}

    serve(app)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/evil-rule/x").status_code == 200
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    assert monitor.flush()
    yield app, db
    close(app, db)


@pytest.fixture
def app(served: tuple[Flask, SQLAlchemy]) -> Flask:
    return served[0]


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update({"HTTP_X_REPORT_ADMIN": "yes"})
    return client


def expected_report(app: Flask, seconds: int = 300) -> Any:
    """``build_report`` on the same store window and inputs, as the CLI would call it."""
    state = turbina.get_state(app)
    assert state.monitor is not None
    reading = state.monitor.store.read(time.time() - seconds)
    kept, _dropped = without_prefix(reading, state.settings.dashboard_prefix)
    return build_report(reading=kept, **app_inputs(app, state).build_kwargs())


def test_the_page_ranks_the_n_plus_one_with_its_loader_the_checklist_and_the_verdict(
    admin: FlaskClient, app: Flask
) -> None:
    response = admin.get("/_turbina/report?window=5m")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    expected = expected_report(app)
    (n1,) = [f for f in expected.findings if f.kind == "nplusone"]
    assert n1.code is not None and "Book.author" in n1.code
    finding = html.split('data-kind="nplusone"')[1].split("</li>")[0]
    assert "N+1: Book.author lazy-loaded 20.0 times per request in /books" in finding
    assert f"<code>{n1.code}</code>" in finding  # the loader to paste
    assert n1.where is not None and "app.py" in n1.where and n1.where in finding  # call site
    assert f"requests {BOOKS_REQUESTS}" in finding and "requests/h x (20.0-1)/20.0" in finding
    # every finding is listed, in the report's order
    kinds = re.findall(r'<li class="finding report-finding" data-kind="(\w+)">', html)
    assert kinds == [f.kind for f in expected.findings]
    assert {"nplusone", "repeated", "slow_query", "cache"} <= set(kinds)
    # the checklist: one row per criterion with pass / FAIL / not measured, then the verdict
    table = html.split('id="checklist"')[1].split("</table>")[0]
    results = re.findall(r'<td class="result (pass|fail|na)">', table)
    assert results == [
        {True: "pass", False: "fail", None: "na"}[c.passed] for c in expected.checklist
    ]
    assert len(results) >= 5
    verdict = html.split('id="verdict">')[1].split("</p>")[0]
    assert verdict == expected.verdict.replace(">", "&gt;").replace("<", "&lt;")
    assert "seed criteria met" in verdict
    assert SECRET not in html  # fingerprints only, literals redacted


def test_the_json_is_the_reports_to_json(admin: FlaskClient, app: Flask) -> None:
    data = admin.get("/_turbina/api/report?window=1h").json
    assert data is not None
    expected = expected_report(app, 3600).to_json()
    assert set(data) == set(expected) and data["kind"] == "turbina.report"
    assert [(f["kind"], f["title"]) for f in data["findings"]] == [
        (f["kind"], f["title"]) for f in expected["findings"]
    ]
    assert set(data["findings"][0]) == set(expected["findings"][0])
    assert [(c["name"], c["passed"]) for c in data["checklist"]] == [
        (c["name"], c["passed"]) for c in expected["checklist"]
    ]
    assert data["verdict"] == expected["verdict"]
    assert [r["endpoint"] for r in data["endpoints"]] == [
        r["endpoint"] for r in expected["endpoints"]
    ]
    assert data["plans"] == []  # no EXPLAIN from the dashboard
    assert 3590 <= data["window_s"] <= 3600 + 60
    assert SECRET not in str(data)


def test_each_answer_reads_the_store_once(
    admin: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    store = monitor.store
    reads: list[float] = []
    read = store.read

    def counted(since: float, *args: Any, **kwargs: Any) -> Any:
        reads.append(since)
        return read(since, *args, **kwargs)

    monkeypatch.setattr(store, "read", counted)
    for url in URLS:
        reads.clear()
        assert admin.get(url + "?window=1h").status_code == 200, url
        assert len(reads) == 1, url
        assert time.time() - 3600 - 60 <= reads[0] <= time.time() - 3600, url


def test_the_report_reads_no_database_and_runs_no_explain(
    admin: FlaskClient, app: Flask, served: tuple[Flask, SQLAlchemy]
) -> None:
    _app, db = served
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert admin.get("/emails").status_code == 200  # the listener sees the app's SQL
        assert len(seen) == 10
        seen.clear()
        for url in URLS:
            assert admin.get(url + "?window=24h").status_code == 200, url
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert seen == []


def test_the_html_download_is_one_self_contained_file(admin: FlaskClient) -> None:
    response = admin.get("/_turbina/report/download?window=1h")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="turbina-report-1h-\d{8}T\d{6}Z\.html"', disposition)
    html = response.get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "<style>" in html
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r'(?:src|href)="', html)  # nothing to fetch: no link, no image
    assert "N+1: Book.author" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and SECRET not in html


def test_a_markup_fingerprint_and_url_rule_stay_text(admin: FlaskClient) -> None:
    html = admin.get("/_turbina/report?window=1h").get_data(as_text=True)
    main = html.split("<main>")[1]
    assert EVIL not in main and "<script" not in main
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in main  # the table's fingerprint, escaped
    assert "/evil-rule/&lt;script&gt;" in main  # the endpoint table
    data = admin.get("/_turbina/api/report?window=1h").json
    assert data is not None
    assert any(r["endpoint"] == f"GET {EVIL_RULE}" for r in data["endpoints"])  # data as is


def test_anonymous_is_refused_and_learns_nothing(app: Flask) -> None:
    anonymous = app.test_client()
    for url in URLS:
        response = anonymous.get(url + "?window=1h")
        assert response.status_code == 403, url
        assert response.headers["Content-Security-Policy"] == CSP
        body = response.get_data(as_text=True)
        assert "TURBINA_DASHBOARD_AUTH" in body
        for leak in ("ms/h", "Book.author", "N+1", "r_author", "seed criteria", "p95"):
            assert leak not in body, (url, leak)
    data = anonymous.get("/_turbina/api/report").json
    assert data is not None and set(data) == {"error", "fix"}


def test_every_page_links_to_it_in_the_nav(admin: FlaskClient) -> None:
    for path in ["/", "/endpoints", "/queries", "/cache", "/indexes", "/compare", "/report"]:
        html = admin.get("/_turbina" + path + "?window=1h").get_data(as_text=True)
        nav = html.split("<nav>")[1].split("</nav>")[0]
        assert 'href="/_turbina/report?window=1h"' in nav, path
    html = admin.get("/_turbina/report?window=1h").get_data(as_text=True)
    assert re.search(r'href="/_turbina/report\?window=1h" aria-current="page">Report<', html)
    assert 'href="/_turbina/report/download?window=1h"' in html
    assert 'href="/_turbina/api/report?window=1h"' in html


def test_a_bad_window_is_400(admin: FlaskClient) -> None:
    for url in URLS:
        response = admin.get(url + "?window=2d")
        assert response.status_code == 400, url
        assert "window must be one of 5m, 1h, 24h" in response.get_data(as_text=True)


def test_the_findings_are_capped(
    admin: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = len(expected_report(app, 3600).findings)
    assert every > 3
    monkeypatch.setattr(report_page, "MAX_FINDINGS", 3)
    data = admin.get("/_turbina/api/report?window=1h").json
    assert data is not None
    assert len(data["findings"]) == 3
    assert f"the top 3 of {every} findings are shown" in data["notes"]
    html = admin.get("/_turbina/report?window=1h").get_data(as_text=True)
    assert html.count('class="finding report-finding"') == 3
    assert f"the top 3 of {every} findings are shown" in html


def _advice(app: Flask) -> Path:
    report = {
        "base_cost": 100.0,
        "final_cost": 40.0,
        "cost_unit": "cost",
        "indexes": [
            {
                "ddl": "CREATE INDEX ix_r_book_author ON r_book (author_id) /* <b>x</b> */",
                "table": "r_book",
                "columns": ["author_id"],
                "size_bytes": 8192,
                "benefit": 60.0,
                "queries": [],
            }
        ],
    }
    path = report_path(app.instance_path)
    save_report(path, report, ["turbina: index"], dialect="sqlite", database="x", source="t")
    return path


def test_the_saved_index_advice_is_a_finding_with_its_ddl(admin: FlaskClient, app: Flask) -> None:
    path = _advice(app)
    try:
        html = admin.get("/_turbina/report?window=1h").get_data(as_text=True)
    finally:
        path.unlink()
    finding = html.split('data-kind="index"')[1].split("</li>")[0]
    assert "index r_book(author_id)" in finding
    assert "CREATE INDEX ix_r_book_author ON r_book (author_id) /* &lt;b&gt;x&lt;/b&gt; */" in (
        finding
    )


def test_a_corrupt_advice_file_is_said_and_the_rest_still_shown(
    admin: FlaskClient, app: Flask
) -> None:
    path = report_path(app.instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    try:
        response = admin.get("/_turbina/report?window=1h")
        data = admin.get("/_turbina/api/report?window=1h").json
    finally:
        path.unlink()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "the saved index advice is left out" in html and "is not JSON" in html
    assert "turbina indexes advise" in html  # the fix
    assert 'data-kind="nplusone"' in html
    assert data is not None and any("is not JSON" in n for n in data["notes"])


def test_without_the_monitor_the_page_says_why(tmp_path: Path) -> None:
    app, db = make_app(tmp_path, TURBINA_DASHBOARD_AUTH=is_admin, TURBINA_MONITOR=False)
    try:
        client = app.test_client()
        response = client.get("/_turbina/report", headers=ADMIN)
        assert response.status_code == 503
        assert "TURBINA_MONITOR=true" in response.get_data(as_text=True)
        data = client.get("/_turbina/api/report", headers=ADMIN).json
        assert data is not None and "TURBINA_MONITOR=true" in data["error"]
    finally:
        close(app, db)


def test_the_shared_inputs_raise_on_a_corrupt_advice_file_when_strict(app: Flask) -> None:
    path = report_path(app.instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[]")
    state = turbina.get_state(app)
    try:
        with pytest.raises(TurbinaError, match="is not a saved index report"):
            app_inputs(app, state)
        lenient = app_inputs(app, state, strict=False)
    finally:
        path.unlink()
    assert lenient.index_advice is None and len(lenient.problems) == 1
    assert "turbina indexes advise" in lenient.problems[0]
    assert lenient.rules is not None and lenient.rules == slow_rules(state)
    assert app_inputs(app, state).problems == []
