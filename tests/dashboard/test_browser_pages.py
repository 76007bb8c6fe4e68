"""The Indexes page, the two-window comparison and EXPLAIN on demand in real Chromium: the
comparison table shows the JSON API's numbers, a saved report's HTML stays inert, a click on
"Plan" posts the CSRF form and shows the plan; no console error, no request off the host."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from turbina.indexes.saved import report_path, save_report

from .conftest import ARTIFACTS, WAIT_MS, Visit, js_number
from .test_pages import EVIL_DDL, _copy_requests_back

pytestmark = pytest.mark.slow


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The test app refreshing once a minute: a click never races a table being rebuilt."""
    return make_app(TURBINA_DASHBOARD_REFRESH_S=60)


def ratio(value: float | None) -> str:
    """``ratio()`` of dashboard.js."""
    return "–" if value is None else f"{value:.2f}×"


def test_the_comparison_table_shows_the_json_apis_numbers(
    visit: Callable[[], Visit], app: Flask
) -> None:
    _copy_requests_back(app, 3600 + 120)
    v = visit()
    data = v.open("/compare?span=1h")
    rows = v.page.locator("#compare tbody tr")
    assert rows.count() == len(data["endpoints"]) >= 3
    for i, row in enumerate(data["endpoints"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        a, b, r = row["before"], row["after"], row["ratio"]
        assert cells[:2] == [row["endpoint"], row["method"]]
        assert cells[2:5] == [
            js_number(a["calls"], None),
            js_number(b["calls"], None),
            ratio(r["per_minute"]),
        ]
        assert cells[5:8] == [
            js_number(a["p50_ms"], None),
            js_number(b["p50_ms"], None),
            ratio(r["p50_ms"]),
        ]
        assert cells[8:11] == [
            js_number(a["p95_ms"], None),
            js_number(b["p95_ms"], None),
            ratio(r["p95_ms"]),
        ]
        assert cells[11:14] == [
            js_number(a["db_share"], "%"),
            js_number(b["db_share"], "%"),
            ratio(r["db_share"]),
        ]
    assert v.page.get_by_role("cell", name="/evil/<script>", exact=True).count() == 1
    assert v.page.evaluate("() => window.__pwned") is None
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_the_indexes_page_shows_the_saved_report_inert(
    visit: Callable[[], Visit], app: Flask
) -> None:
    report = {
        "base_cost": 100.0,
        "final_cost": 40.0,
        "indexes": [
            {"ddl": EVIL_DDL, "benefit": 60.0, "size_bytes": 16384, "queries": []},
        ],
    }
    save_report(
        report_path(app.instance_path),
        report,
        ["turbina: index: <img src=x onerror=window.__pwned=4>"],
        dialect="sqlite",
        database="sqlite://",
        source="the store, last 24h",
    )
    v = visit()
    v.page.goto(v.base + "/_turbina/indexes")
    assert "60.0 %" in v.page.locator("#advice").inner_text()
    assert v.page.locator("#advice code", has_text="<script>window.__pwned=3</script>").count() == 1
    assert v.page.locator("main script, main img").count() == 0
    assert v.page.evaluate("() => window.__pwned") is None
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "indexes.png"), full_page=True)


def test_plan_a_select_by_clicking(visit: Callable[[], Visit]) -> None:
    v = visit()
    v.open("/queries?window=1h")
    row = v.page.locator("#queries tbody tr", has_text="from author where author.id = ?")
    row.first.get_by_role("button", name="Plan").click()
    v.page.wait_for_selector("#explain-plan", timeout=WAIT_MS)
    assert "USING INTEGER PRIMARY KEY" in v.page.locator("#explain-plan").inner_text()
    assert "from author where author.id = ?" in v.page.locator("#explain-statement").inner_text()
    insert = v.page.locator("#queries tbody tr", has_text="insert into")
    v.page.go_back()
    v.page.wait_for_selector("body[data-refreshes]", timeout=WAIT_MS)
    assert insert.get_by_role("button", name="Plan").count() == 0  # only SELECTs get a button
