"""The dashboard in real Chromium against the test app on a real server: the tiles show the
JSON API's numbers, the chart draws, a value updates without a reload, endpoint -> query ->
N+1 -> loader by clicking, the invalidate action, HTML stays inert, no console error and
no request to any host but 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask import Flask

from .conftest import ARTIFACTS, WAIT_MS, Visit, js_number
from .site import EVIL_ALIAS, flush

pytestmark = pytest.mark.slow


def test_tiles_show_the_json_api_numbers_and_the_chart_draws(visit: Callable[[], Visit]) -> None:
    v = visit()
    data = v.open("/")
    tiles = v.page.locator("[data-tile]")
    assert tiles.count() == 6
    for i in range(tiles.count()):
        tile = tiles.nth(i)
        name, unit = tile.get_attribute("data-tile"), tile.get_attribute("data-unit")
        assert name is not None
        assert json.loads(tile.get_attribute("data-value") or "") == data["tiles"][name]
        assert tile.inner_text() == js_number(data["tiles"][name], unit)
    assert data["tiles"]["p95_ms"] == data["requests"]["p95_ms"]
    assert v.page.locator("#health tbody tr").count() == len(data["health"]) == 7
    assert v.page.locator("#health .level.amber").count() >= 1  # the N+1
    painted = v.page.evaluate(
        """() => {
          const c = document.getElementById('latency-chart');
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let red = 0;  // the p95 line's colour, #c0392b
          for (let i = 0; i < px.length; i += 4)
            if (px[i] > 150 && px[i + 1] < 90 && px[i + 2] < 80 && px[i + 3] > 200) red++;
          return red;
        }"""
    )
    assert painted > 0
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_a_value_updates_on_refresh_without_a_reload(
    visit: Callable[[], Visit], app: Flask
) -> None:
    v = visit()
    v.open("/endpoints")
    row = v.page.locator("#endpoints tbody tr", has_text="/titles")
    assert row.locator("td").nth(2).inner_text() == "3"
    v.page.evaluate("() => { window.__sameDocument = true; }")
    client = app.test_client()
    for _ in range(4):
        assert client.get("/titles").status_code == 200
    flush(app)
    v.page.wait_for_function(
        """() => [...document.querySelectorAll('#endpoints tbody tr')]
              .some(tr => tr.cells[0].textContent === '/titles' && tr.cells[2].textContent === '7')""",
        timeout=WAIT_MS,
    )
    assert v.page.evaluate("() => window.__sameDocument") is True  # no reload happened


def test_endpoint_then_query_then_n_plus_one_shows_the_loader(visit: Callable[[], Visit]) -> None:
    v = visit()
    v.open("/endpoints")
    v.page.get_by_role("link", name="/posts", exact=True).click()  # 1: the endpoint
    v.page.wait_for_selector("#endpoint-queries .finding", timeout=WAIT_MS)
    assert v.page.locator("#endpoint-title").inner_text() == "GET /posts"
    query = v.page.locator('#endpoint-queries .finding[data-subject="Post.author"]')
    query.locator(".finding-head").click()  # 2: the query (the repeated lazy load)
    detail = query.locator(".finding-detail")
    assert detail.is_visible()
    assert detail.locator("code").inner_text() == "joinedload(Post.author)"  # 3: the loader
    assert "tests/dashboard/site.py:" in detail.locator(".callsite").inner_text()
    assert detail.locator("button.copy").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "endpoint.png"), full_page=True)
    v.page.wait_for_function(  # a refresh keeps the open finding open
        "n => Number(document.body.dataset.refreshes) > n",
        arg=int(v.page.evaluate("() => Number(document.body.dataset.refreshes)")),
        timeout=WAIT_MS,
    )
    assert v.page.locator("#endpoint-queries .finding-detail:visible").count() == 1


def test_html_from_the_app_stays_inert_text(visit: Callable[[], Visit]) -> None:
    v = visit()
    v.open("/queries?window=1h")
    v.page.wait_for_selector("#queries tbody code.sql", timeout=WAIT_MS)
    cell = v.page.locator("#queries code.sql", has_text=EVIL_ALIAS)
    assert cell.count() == 1
    assert v.page.locator("#queries img, #slow img").count() == 0
    v.open("/endpoints")
    assert v.page.get_by_role("link", name="/evil/<script>", exact=True).count() == 1
    assert v.page.locator("main script").count() == 0
    assert v.page.evaluate("() => window.__pwned") is None


def test_invalidate_a_context_after_confirming(visit: Callable[[], Visit], app: Flask) -> None:
    v = visit()
    data = v.open("/cache")
    assert [c["context"] for c in data["contexts"]] == ["posts"]
    assert v.page.locator("#cache tbody tr").first.locator("td").nth(1).inner_text() == js_number(
        data["contexts"][0]["hit_rate"], "%"
    )
    v.page.get_by_role("link", name="Invalidate…").click()
    v.page.wait_for_selector("#confirm-invalidate", timeout=WAIT_MS)
    v.page.locator("#confirm-invalidate").click()
    v.page.wait_for_selector("#invalidated", timeout=WAIT_MS)
    assert "posts" in v.page.locator("#invalidated").inner_text()
    assert urlsplit(v.page.url).query == "invalidated=posts"


HIDDEN_SWITCH = """
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get() { return window.__hidden === true; } });
"""


def test_refresh_pauses_while_hidden_and_resumes_with_fresh_numbers(
    visit: Callable[[], Visit], app: Flask
) -> None:
    v = visit()
    v.context.add_init_script(HIDDEN_SWITCH)  # headless tabs are never hidden: switch it here
    v.open("/endpoints")
    assert v.page.get_attribute("body", "data-paused") == "false"
    v.page.evaluate(
        "() => { window.__hidden = true; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    assert v.page.get_attribute("body", "data-paused") == "true"  # the timer is cleared
    client = app.test_client()
    for _ in range(2):
        assert client.get("/titles").status_code == 200
    flush(app)
    v.page.evaluate(
        "() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    assert v.page.get_attribute("body", "data-paused") == "false"
    v.page.wait_for_function(  # shown again: refreshed at once
        """() => [...document.querySelectorAll('#endpoints tbody tr')]
              .some(tr => tr.cells[0].textContent === '/titles' && tr.cells[2].textContent === '5')""",
        timeout=WAIT_MS,
    )
