"""The lazy parts of the `fretes` pages in real Chromium, against the app on a real server
(werkzeug, threaded, 127.0.0.1), under the app's own CSP: the list's badges arrive as a
fragment after the page, the report's chart is drawn only once scrolled to (Chart.js loaded
then, once, from its fingerprinted bundle), and no request leaves 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from fretes_testing import ATE, FATURAMENTO, LISTAR

pytestmark = pytest.mark.slow
WAIT_MS = 15_000  # an upper bound for each wait, not a measured time
PASSWORD = "senha"  # every known user's (conftest)


@pytest.fixture(scope="module")
def live(known_app: Flask, live_server: Callable[[Flask], Any]) -> Iterator[Any]:
    server = live_server(known_app)
    yield server
    server.close()


class Visit:
    """A logged-in browser context: every request and console message recorded."""

    def __init__(self, browser: Any, base: str, username: str, height: int) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": height})
        login = self.context.request.post(
            base + "/login",
            data=json.dumps({"username": username, "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        assert login.status == 200, login.text()
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("pageerror", lambda error: self.console.append(str(error)))

    def paths(self, part: str) -> list[str]:
        return [urlsplit(url).path for url in self.requests if part in urlsplit(url).path]

    def hosts(self) -> set[str | None]:
        return {urlsplit(url).hostname for url in self.requests if url.startswith("http")}


@pytest.fixture
def visit(browser: Any, live: Any) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_visit(username: str = "admin", height: int = 800) -> Visit:
        opened.append(Visit(browser, live.url, username, height))
        return opened[-1]

    yield open_visit
    for done in opened:
        done.context.close()


def test_the_badges_load_as_a_fragment_on_the_list(visit: Any) -> None:
    v = visit("ana")
    v.page.goto(v.base + LISTAR + f"?hoje={ATE}", wait_until="load")
    v.page.wait_for_selector("#badges[data-lazy-state=loaded]", timeout=WAIT_MS)
    counts = v.page.eval_on_selector_all(
        "#badges [data-badge]", "els => els.map(e => [e.dataset.badge, e.textContent])"
    )
    # ana's entregas: e1, e2 open (e1 late, e2 to reschedule and without agendamento), e1
    # commented; e5 cancelled.
    assert dict(counts) == {
        "pendente": "2",
        "entregue": "0",
        "atrasada": "1",
        "reagendar": "1",
        "sem_agendamento": "1",
        "com_comentarios": "1",
    }
    assert v.paths("/monitoramento/badges") == ["/monitoramento/badges"]
    first = v.page.get_attribute("#badges a.counter", "href")
    assert first == f"{LISTAR}?hoje={ATE}&status=pendente"
    assert v.paths("chart") == []  # no chart on this page: Chart.js is never fetched
    assert v.hosts() == {"127.0.0.1"}
    assert v.console == []  # no CSP violation, no script error


def test_the_chart_is_drawn_only_once_scrolled_to(visit: Any) -> None:
    # A short window: the known dataset's report is short, the chart must start below the fold
    # (and beyond the observer's 200 px margin).
    v = visit("admin", height=300)
    v.page.goto(v.base + FATURAMENTO + f"?ate={ATE}&dias=365", wait_until="load")
    v.page.wait_for_load_state("networkidle")
    assert v.page.get_attribute("#grafico-clientes", "data-lazy-state") is None
    assert v.paths("/faturamento/grafico") == [] and v.paths("/static/dist/chart.") == []

    v.page.locator("#grafico-clientes").scroll_into_view_if_needed()
    v.page.wait_for_selector("#grafico-clientes[data-lazy-state=loaded]", timeout=WAIT_MS)
    assert v.paths("/faturamento/grafico") == ["/faturamento/grafico"]
    assert len(v.paths("/static/dist/chart.")) == 1
    drawn = v.page.evaluate(
        "(() => { const c = document.querySelector('#grafico-clientes').turbinaChart;"
        " return {labels: c.data.labels, values: c.data.datasets[0].data,"
        " width: c.canvas.width}; })()"
    )
    assert drawn["labels"] == ["Mercado Alfa Ltda", "Padaria Beta", "Comercial Gama"]
    assert drawn["values"] == ["2499.00", "2000.00", "300.00"]
    assert drawn["width"] > 0
    assert v.hosts() == {"127.0.0.1"}
    assert v.console == []


def test_a_lazy_part_without_a_session_shows_its_error_in_place(visit: Any) -> None:
    v = visit("admin")
    v.page.goto(v.base + LISTAR, wait_until="load")
    v.page.wait_for_selector("#badges[data-lazy-state=loaded]", timeout=WAIT_MS)
    v.context.clear_cookies()  # the session ends while the page is open
    v.page.evaluate(
        "(() => { const el = document.querySelector('#badges');"
        " el.removeAttribute('data-lazy-state'); window.turbinaLazy.load(el); })()"
    )
    v.page.wait_for_selector("#badges[data-lazy-state=error]", timeout=WAIT_MS)
    alert = v.page.inner_text("#badges [role=alert]")
    assert "Não foi possível carregar os contadores" in alert and "HTTP 401" in alert
    # the console shows the failed fetch (the browser's own message), nothing else
    assert all("401" in line for line in v.console)
