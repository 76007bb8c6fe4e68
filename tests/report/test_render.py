"""Renderers: text, Markdown, JSON and self-contained HTML; markup from the traffic is escaped
and no literal value is ever shown."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from turbina.report import build_report, render_html, render_markdown, render_text
from turbina.store.model import QUERIES, REQUESTS, Reading, label_id

from .app import EVIL, SECRET
from .test_checklist import benchmark


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]


def _evil_reading() -> Reading:
    """A window whose endpoint name and fingerprint are markup."""
    req = label_id(REQUESTS, (EVIL, "GET"))
    qry = label_id(QUERIES, ("main", EVIL))
    fields = {"n": 100, "us": 100 * 80_000, "db_us": 100 * 70_000, "q": 300, "b40": 100}
    return Reading(
        since=0.0,
        until=3600.0,
        resolution=60,
        counters={(REQUESTS, req): fields, (QUERIES, qry): {"n": 300, "us": 300 * 23_000}},
        labels={
            (REQUESTS, req): {"endpoint": EVIL, "method": "GET"},
            (QUERIES, qry): {"engine": "main", "fingerprint": f"select {EVIL} from t"},
        },
    )


def _check_html(page: str) -> None:
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert parser.urls == []  # no external resource (and no link at all)
    assert "<script" not in page.lower()
    assert not re.search(r"https?://", page)


def test_markup_in_endpoint_names_and_fingerprints_is_escaped() -> None:
    report = build_report(reading=_evil_reading(), benchmark=benchmark())
    assert any(EVIL in f.title for f in report.findings)  # it is there, as text
    page = render_html(report)
    _check_html(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<svg" in page and "<rect" in page  # the latency histogram and before/after bars
    markdown = render_markdown(report)
    # fenced code shows its text as text (CommonMark); everything else escapes "<"
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    assert "<script" not in prose and "&lt;script>" in prose


def test_the_real_app_report_shows_no_literal_anywhere(reading: Reading) -> None:
    report = build_report(reading=reading, benchmark=benchmark())
    outputs = [
        render_text(report, top=50),
        render_markdown(report),
        render_html(report),
        json.dumps(report.to_json()),
    ]
    for text in outputs:
        assert SECRET not in text
        assert "maria.silva" not in text
    _check_html(outputs[2])
    assert "&lt;script&gt;" in outputs[2]  # the table named with markup, escaped


def test_text_is_short_and_says_the_verdict(reading: Reading) -> None:
    report = build_report(reading=reading)
    text = render_text(report, top=3)
    assert text.count("\n   est ") + text.count("\n      est ") == 3
    assert f"Verdict: {report.verdict}" in text
    assert "Seed checklist:" in text
    first = report.findings[0]
    assert first.title in text


def test_the_html_plots_each_page_before_and_after() -> None:
    report = build_report(benchmark=benchmark())
    page = render_html(report)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count("<rect") == 2  # one page, two phases
    assert "naive: 400" in svg and "cached: 5.0" in svg


def test_json_round_trips(reading: Reading) -> None:
    data: dict[str, Any] = json.loads(json.dumps(build_report(reading=reading).to_json()))
    assert data["kind"] == "turbina.report"
    assert data["findings"] and data["checklist"] and data["verdict"]
    saved = [f["saved_ms_per_hour"] for f in data["findings"]]
    assert saved == sorted(saved, reverse=True)
