"""Loader guards on every seed page and lazy endpoint, in the optimized AND the cached form,
HTML and JSON: ``turbina.testing.max_queries`` (a constant, small number of statements) and
``no_n_plus_one`` (no lazy load or repeated SELECT run per row), so a change that brings a
per-row query back fails here with the loader fix in the message.

The cached form is guarded cold (a fresh app: every fragment a miss, so it runs the optimized
data functions plus the queries that scope its dependencies) and warm (every fragment a hit:
only the login's user lookup). The export is streamed and never cached: the cached form runs
the optimized export.

Runs on the known dataset, once on SQLite and once on PostgreSQL (``known_app``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import (
    ATE,
    EMBARQUES,
    EXPORTAR,
    FATURAMENTO,
    FRETES,
    LISTAR,
    LOGIN_QUERIES,
    PEDIDOS,
    fetch,
)

from fretes.mode import CACHED, NAIVE, OPTIMIZED
from turbina.testing import max_queries, no_n_plus_one

BADGES = "/monitoramento/badges"
GRAFICO = "/faturamento/grafico"

# (url, params, the optimized data function's statements): the seed's six pages and the two
# endpoints their lazy parts load. Listar: the total (with the badges for JSON), the page,
# the per-row aggregates; export: the row cap's COUNT, the entregas, one selectin query per
# collection and the replies.
PAGES: list[tuple[str, dict[str, Any], int]] = [
    (LISTAR, {}, 3),
    (EXPORTAR, {"formato": "csv"}, 1 + 1 + 6),
    (EMBARQUES, {}, 3),
    (FATURAMENTO, {"ate": ATE, "dias": 365}, 2),
    (FRETES, {}, 2),
    (PEDIDOS, {"ate": ATE, "dias": 60}, 2),
    (BADGES, {}, 1),
    (GRAFICO, {"ate": ATE, "dias": 365}, 2),
]
# What the cached form runs on a miss beyond the optimized data function: pedidos, the
# counters' own entry (one GROUP BY over every pedido); the badges, the ids of the entregas
# under the base filters (the children its counters depend on), one query for both children.
CACHED_COLD_EXTRA = {PEDIDOS: 1, BADGES: 1}
# Answers that are not HTML pages (a fragment or a chart config): one format only.
ONE_FORMAT = {EXPORTAR, GRAFICO}
# What the HTML page reads beyond its data function: the carriers of the fretes filter.
HTML_EXTRA = {FRETES: 1}


def ids(case: tuple[str, dict[str, Any], int]) -> str:
    return case[0]


def formats(url: str) -> list[str | None]:
    return [None] if url in ONE_FORMAT else [None, "json"]


def logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", json={"username": "admin", "password": "senha"}).status_code == 200
    return client


def guarded(client: FlaskClient, url: str, mode: str, bound: int, **params: Any) -> int:
    """Fetch under both guards; returns the statement count."""
    with max_queries(bound, threshold=2) as counted, no_n_plus_one(threshold=2):
        fetch(client, url, mode, **params)
    assert not counted.lazy
    return counted.count


@pytest.mark.parametrize(("url", "params", "queries"), PAGES, ids=[ids(c) for c in PAGES])
def test_optimized_pages_are_guarded(
    make_app: Callable[..., Flask], url: str, params: dict[str, Any], queries: int
) -> None:
    client = logged_in(make_app())
    for fmt in formats(url):
        extra = {"format": fmt} if fmt else {}
        expected = LOGIN_QUERIES + queries + (0 if fmt else HTML_EXTRA.get(url, 0))
        assert guarded(client, url, OPTIMIZED, expected, **params, **extra) == expected


@pytest.mark.parametrize(("url", "params", "queries"), PAGES, ids=[ids(c) for c in PAGES])
def test_cached_pages_are_guarded_cold_and_warm(
    make_app: Callable[..., Flask], url: str, params: dict[str, Any], queries: int
) -> None:
    for fmt in formats(url):
        client = logged_in(make_app())  # a fresh app: an empty cache
        extra = {"format": fmt} if fmt else {}
        cold = LOGIN_QUERIES + queries + CACHED_COLD_EXTRA.get(url, 0)
        if url == LISTAR and fmt == "json":
            # The badge counters' own entry and its dependency ids (the lazy HTML list leaves
            # them to the badges fragment); its own page entry counts the total alone.
            cold += 1 + CACHED_COLD_EXTRA[BADGES]
        if url == EXPORTAR:
            cold = LOGIN_QUERIES + queries  # the optimized export, uncached
        html = 0 if fmt else HTML_EXTRA.get(url, 0)
        assert guarded(client, url, CACHED, cold + html, **params, **extra) == cold + html
        warm = cold if url == EXPORTAR else LOGIN_QUERIES
        assert guarded(client, url, CACHED, warm + html, **params, **extra) == warm + html


# The naive forms with a per-row query (lazy loads per row).
PER_ROW = [case for case in PAGES if case[0] in {LISTAR, EXPORTAR, EMBARQUES, FRETES}]


@pytest.mark.parametrize(("url", "params", "queries"), PER_ROW, ids=[ids(c) for c in PER_ROW])
def test_the_guards_catch_the_naive_form(
    make_app: Callable[..., Flask], url: str, params: dict[str, Any], queries: int
) -> None:
    """The guards can fail: the naive form of the pages with per-row queries trips them."""
    client = logged_in(make_app())
    with pytest.raises(AssertionError, match=r"N\+1|expected at most"):
        guarded(client, url, NAIVE, LOGIN_QUERIES + queries, **params)
