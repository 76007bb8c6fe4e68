"""Fixtures of the dashboard tests: the test app, a real server on 127.0.0.1, Chromium
(``visit``: a logged-in admin's fresh browser context, checked clean at the end).

Chromium is Debian's (``.ci/run`` installs it), driven by Playwright with
``executable_path`` — no browser download. Browser tests skip with the reason when Chromium
or Playwright is absent, and fail when ``CI`` or ``TURBINA_REQUIRE_SERVICES`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from .site import create_app, workload

ARTIFACTS = Path(__file__).parent / "artifacts"
WAIT_MS = 10_000  # an upper bound for each wait in a browser, not a measured time


def missing_service(reason: str) -> None:
    """Skip, or fail when services are required (as the root conftest does)."""
    if os.environ.get("CI") or os.environ.get("TURBINA_REQUIRE_SERVICES"):
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        return create_app(str(tmp_path / "instance"), **config)

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def live(app: Flask, live_server: Callable[[Flask], Any]) -> Iterator[Any]:
    server = live_server(app)
    yield server
    server.close()


class Visit:
    """A logged-in admin's page in a fresh context, recording requests and console errors."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page.goto(base + "/login")

    def open(self, path: str) -> dict[str, Any]:
        """Go to a dashboard page; the JSON its first refresh rendered."""
        with self.page.expect_response(lambda r: "/_turbina/api/" in r.url) as answer:
            self.page.goto(self.base + "/_turbina" + path)
        self.page.wait_for_selector("body[data-refreshes]", timeout=WAIT_MS)
        data: dict[str, Any] = answer.value.json()
        return data

    def check_clean(self) -> None:
        assert self.errors == []  # CSP violations are console errors too
        hosts = {urlsplit(url).hostname for url in self.requests}
        assert hosts == {"127.0.0.1"}


@pytest.fixture
def visit(browser: Any, live: Any, app: Flask) -> Iterator[Callable[[], Visit]]:
    workload(app)
    opened: list[Visit] = []

    def open_visit() -> Visit:
        opened.append(Visit(browser, live.url))
        return opened[-1]

    yield open_visit
    for done in opened:
        done.check_clean()
        done.context.close()


def js_number(value: float | int | None, unit: str | None) -> str:
    """``fmt()`` of dashboard.js."""
    if value is None:
        return "–"
    if unit == "%":
        return f"{value * 100:.1f} %"
    digits = 3 if value < 10 else 1
    text = str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"
    return f"{text} {unit}" if unit else text
