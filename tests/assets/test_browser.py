"""turbina-lazy.js and the built bundles in real Chromium, against the test site on a real
server: a part below the fold loads only once scrolled to, a failing fragment shows its error
in place, the chart library loads once for two charts, and no request leaves 127.0.0.1.

The same page runs built (minified bundles, as in production) and in debug (the plain
sources), so a minification that broke turbina-lazy.js would fail here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

import turbina
from turbina.assets.minify import minify_js

pytestmark = pytest.mark.slow
WAIT_MS = 10_000  # an upper bound for each wait, not a measured time


class Visit:
    """A page in a fresh browser context, with every request it makes recorded."""

    def __init__(self, browser: Any, init_script: str | None = None) -> None:
        self.context = browser.new_context(viewport={"width": 1000, "height": 700})
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def paths(self, part: str) -> list[str]:
        return [urlsplit(url).path for url in self.requests if part in urlsplit(url).path]

    def state(self, selector: str) -> str | None:
        value = self.page.get_attribute(selector, "data-lazy-state")
        return None if value is None else str(value)

    def wait_state(self, selector: str, state: str) -> None:
        self.page.wait_for_selector(f"{selector}[data-lazy-state={state}]", timeout=WAIT_MS)


@pytest.fixture(params=["built", "debug"])
def site_url(
    request: pytest.FixtureRequest,
    make_app: Callable[..., Flask],
    serve: Callable[[Flask], Any],
) -> str:
    if request.param == "built":
        turbina.get_state(make_app()).assets.build()  # type: ignore[union-attr]
        return serve(make_app()).url
    return serve(make_app(debug=True)).url


@pytest.fixture
def visit(browser: Any) -> Iterator[Callable[..., Visit]]:
    opened: list[Visit] = []

    def open_visit(init_script: str | None = None) -> Visit:
        opened.append(Visit(browser, init_script))
        return opened[-1]

    yield open_visit
    for done in opened:
        done.context.close()


def test_a_part_below_the_fold_loads_only_after_scrolling(
    site_url: str, visit: Callable[..., Visit]
) -> None:
    v = visit()
    v.page.goto(site_url + "/", wait_until="load")
    # #top is observed together with #late: once it has loaded, the observer has reported
    # on both, and #late (below the fold) was left alone.
    v.wait_state("#top", "loaded")
    assert v.state("#late") is None
    assert v.paths("/fragments/late") == [] and v.paths("/data/") == []
    assert v.page.inner_text("#top h2") == "Top badges"

    v.page.locator("#late").scroll_into_view_if_needed()
    v.wait_state("#late", "loaded")
    assert v.paths("/fragments/late") == ["/fragments/late"]
    assert v.page.inner_text("#late h2") == "Late badges"
    assert v.page.get_attribute("#late img", "loading") == "lazy"  # native lazy images
    assert v.page.get_attribute("#late", "aria-busy") is None
    assert v.errors == []


def test_a_failing_fragment_shows_its_error_in_place(
    site_url: str, visit: Callable[..., Visit]
) -> None:
    v = visit()
    v.page.goto(site_url + "/", wait_until="load")
    v.page.locator("#broken").scroll_into_view_if_needed()
    v.wait_state("#broken", "error")
    alert = v.page.locator("#broken [role=alert]")
    text = alert.inner_text()
    assert "Could not load the badges" in text and "HTTP 500" in text
    assert alert.locator("button").inner_text() == "Try again"
    assert v.page.locator("#late").get_attribute("data-lazy-state") != "error"  # only there
    with v.page.expect_response(lambda r: r.url.endswith("/fragments/broken")):
        alert.locator("button").click()  # a retry asks again (and fails again, in place)
    v.wait_state("#broken", "error")
    assert v.page.locator("#broken [role=alert]").count() == 1
    assert v.paths("/fragments/broken") == ["/fragments/broken"] * 2


def test_tables_and_charts_load_and_the_library_loads_once(
    site_url: str, visit: Callable[..., Visit]
) -> None:
    v = visit()
    v.page.goto(site_url + "/", wait_until="load")
    assert v.page.evaluate("window.fakeChartLoads") is None  # not on the first screen
    v.page.locator("#table").scroll_into_view_if_needed()
    v.wait_state("#table", "loaded")
    assert v.page.locator("#table table.rows tbody tr").count() == 40
    assert v.page.locator("#table th").first.inner_text() == "nf"
    v.page.locator("#chart-b").scroll_into_view_if_needed()  # both in view: 16rem each
    v.wait_state("#chart-a", "loaded")
    v.wait_state("#chart-b", "loaded")
    assert v.page.evaluate("[window.fakeChartLoads, window.fakeChartsDrawn]") == [1, 2]
    assert v.page.get_attribute("#chart-a canvas", "data-drawn") == "12"
    library = [p for p in v.paths("/static/") if "chart" in p or "fakechart" in p]
    assert len(library) == 1, library


def test_without_intersection_observer_everything_loads_at_once(
    site_url: str, visit: Callable[..., Visit]
) -> None:
    v = visit("delete window.IntersectionObserver;")
    v.page.goto(site_url + "/", wait_until="load")
    v.wait_state("#late", "loaded")
    v.wait_state("#chart-b", "loaded")
    v.wait_state("#broken", "error")


def test_no_request_leaves_127_0_0_1(site_url: str, visit: Callable[..., Visit]) -> None:
    v = visit()
    v.page.goto(site_url + "/", wait_until="load")
    for selector in ("#late", "#table", "#chart-a", "#chart-b"):
        v.page.locator(selector).scroll_into_view_if_needed()
        v.wait_state(selector, "loaded")
    v.wait_state("#broken", "error")
    assert len(v.requests) >= 10  # the page, its assets, fragments, data, the library
    hosts = {urlsplit(url).hostname for url in v.requests if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, v.requests


EDGE_CASES_JS = r"""
(() => {
  var a = 10, b = 2, c = 5;
  var out = {};
  out.division = a / b / c;
  out.regex = "x/*y*/z//w".replace(/\/\*.*?\*\//g, "");
  out.url = "http://example.com/a//b";
  out.script = "</script>" + '<!--' + "-->";
  out.template = `sum // ${a + b} /* ${c} */`;
  out.classes = (class { #p = 3; get p() { return this.#p ?? 0; } }).name === "" ? 1 : 2;
  function longName(firstArgument, secondArgument) { return firstArgument - secondArgument; }
  out.call = longName(7, 2);
  out.asi = [1, 2]
  [0];
  return JSON.stringify(out);
})()
"""


def test_minified_javascript_computes_what_the_source_does(browser: Any) -> None:
    minified = minify_js(EDGE_CASES_JS, "edge.js")
    assert len(minified) < len(EDGE_CASES_JS)
    context = browser.new_context()
    try:
        page = context.new_page()
        assert page.evaluate(minified) == page.evaluate(EDGE_CASES_JS)
    finally:
        context.close()
