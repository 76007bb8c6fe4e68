"""The Report page in real Chromium: it shows the N+1 with its loader and the checklist under
the strict CSP with no console error, the app's markup stays inert, and the "Download HTML"
file, opened on its own, fetches nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import ARTIFACTS, WAIT_MS, Visit
from .site import EVIL_ALIAS

pytestmark = pytest.mark.slow


def test_the_report_page_shows_the_n_plus_one_and_the_checklist_inert(
    visit: Callable[[], Visit],
) -> None:
    v = visit()
    v.page.goto(v.base + "/_turbina/report?window=1h")
    v.page.wait_for_selector("#verdict", timeout=WAIT_MS)
    n1 = v.page.locator('#findings li[data-kind="nplusone"]')
    assert n1.count() == 1
    assert "N+1: Post.author lazy-loaded 6.0 times per request in /posts" in n1.inner_text()
    assert n1.locator(".code code").inner_text() == "joinedload(Post.author)"
    assert "seed criteria met" in v.page.locator("#verdict").inner_text()
    assert v.page.locator("#checklist tbody tr").count() >= 5
    assert v.page.locator("#checklist td.result").first.inner_text() in (
        "pass",
        "FAIL",
        "not measured",
    )
    assert v.page.locator("#findings li", has_text=EVIL_ALIAS).count() >= 1  # as text
    endpoint = v.page.locator("#report-endpoints code", has_text="GET /evil/<script>")
    assert endpoint.count() == 1
    assert v.page.locator("main script, main img").count() == 0
    assert v.page.evaluate("() => window.__pwned") is None
    assert v.page.locator("nav a[aria-current=page]").inner_text() == "Report"
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)


def test_the_downloaded_report_opens_alone_and_fetches_nothing(
    visit: Callable[[], Visit], browser: Any
) -> None:
    v = visit()
    v.page.goto(v.base + "/_turbina/report?window=1h")
    with v.page.expect_download(timeout=WAIT_MS) as download:
        v.page.get_by_role("link", name="Download HTML").click()
    assert download.value.suggested_filename.startswith("turbina-report-1h-")
    path = download.value.path()
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    context = browser.new_context()
    try:
        page = context.new_page()
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.set_content(html)
        assert "N+1: Post.author" in page.locator("body").inner_text()
        assert page.evaluate("() => window.__pwned") is None
        assert fetched == []
    finally:
        context.close()
