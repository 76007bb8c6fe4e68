"""The badge counters are computed once per list view: the HTML list of the lazy assets mode
(the default) shows a placeholder that GET /monitoramento/badges fills, so the list itself
does not count them; the JSON answer and the eager modes (``pipeline``, ``plain``) still do.

Runs on the known dataset, once on SQLite and once on PostgreSQL (``known_app``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import LISTAR, Login, fetch, query_count

from fretes.domain.monitoramento import BADGES
from fretes.mode import CACHED, NAIVE, OPTIMIZED
from fretes.settings import ASSETS_PIPELINE, ASSETS_PLAIN

# The optimized and cached forms count every badge in one aggregate, its columns labelled
# with the badge names; the naive form runs one COUNT per badge.
BADGE_LABEL = f"AS {BADGES[-1]}"


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL of every statement run meanwhile (any engine)."""
    seen: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)


def logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", json={"username": "admin", "password": "senha"}).status_code == 200
    return client


def test_lazy_html_list_skips_the_naive_badge_counts(login: Login) -> None:
    client = login("admin")
    html = query_count(fetch(client, LISTAR, NAIVE, status="pendente"))
    json = query_count(fetch(client, LISTAR, NAIVE, status="pendente", format="json"))
    assert html == json - len(BADGES)  # before the lazy list skipped them: equal


@pytest.mark.parametrize("mode", [OPTIMIZED, CACHED])
def test_lazy_html_list_runs_no_badge_aggregate(make_app: Callable[..., Flask], mode: str) -> None:
    client = logged_in(make_app())  # a fresh app: the cached form starts cold
    with statements() as html:
        page = fetch(client, LISTAR, mode, cliente="alfa").get_data(as_text=True)
    assert 'data-lazy="fragment"' in page and "data-badge=" not in page
    assert not any(BADGE_LABEL in sql for sql in html)
    with statements() as badges:
        fragment = fetch(client, "/monitoramento/badges", mode, cliente="alfa")
    assert "data-badge=" in fragment.get_data(as_text=True)
    assert sum(BADGE_LABEL in sql for sql in badges) == 1  # counted once, by the fragment
    with statements() as json:
        data = fetch(client, LISTAR, mode, cliente="alfa", page=2, format="json").get_json()
    assert set(data["badges"]) == set(BADGES)
    if mode == OPTIMIZED:  # the JSON answer still carries them (the cached one: a hit)
        assert sum(BADGE_LABEL in sql for sql in json) == 1


@pytest.mark.parametrize("assets", [ASSETS_PIPELINE, ASSETS_PLAIN])
def test_eager_modes_still_count_them_in_the_list(
    make_app: Callable[..., Flask], assets: str
) -> None:
    client = logged_in(make_app({"FRETES_ASSETS": assets}))
    html = fetch(client, LISTAR, NAIVE).get_data(as_text=True)
    assert "data-badge=" in html
    naive_html = query_count(fetch(client, LISTAR, NAIVE))
    assert naive_html == query_count(fetch(client, LISTAR, NAIVE, format="json"))
    with statements() as seen:
        fetch(client, LISTAR, OPTIMIZED)
    assert sum(BADGE_LABEL in sql for sql in seen) == 1
