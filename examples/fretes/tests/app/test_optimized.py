"""The optimized form of every page: same output as the naive form, few and constant queries,
no lazy loads, and the run-time switch (``FRETES_MODE`` / ``X-Fretes-Mode``).

Runs on the known dataset, once on SQLite and once on PostgreSQL (``known_app``). Query counts
come from Turbina (the ``Server-Timing`` header, ``turbina.testing.max_queries``), lazy loads
from Turbina's collector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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
    Login,
    fetch,
    fetch_json,
    query_count,
    without_tokens,
    xlsx_sheets,
)

from fretes.access import naive, optimized
from fretes.access.registry import EXTENSION_KEY, current_mode
from fretes.domain.monitoramento import STATUS_MODES
from fretes.mode import HEADER, BadModeConfig
from turbina import collect
from turbina.testing import max_queries, no_n_plus_one

# Queries of each page's optimized data function, whatever the number of rows shown.
OPTIMIZED_QUERIES = {LISTAR: 3, EMBARQUES: 3, FATURAMENTO: 2, FRETES: 2, PEDIDOS: 2}

# (user, page, query parameters): filters, statuses, pages and both roles of every page.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    *[("admin", LISTAR, {"status": status}) for status in STATUS_MODES],
    ("admin", LISTAR, {"page": 2}),
    ("admin", LISTAR, {"page": 9}),
    ("admin", LISTAR, {"cliente": "alfa", "status": "entregue"}),
    ("admin", LISTAR, {"uf": "sp", "transportadora": "rapido"}),
    ("admin", LISTAR, {"vendedor": "lima", "status": "pendente"}),
    ("admin", LISTAR, {"data_embarque_de": "2026-01-15", "data_embarque_ate": "2026-02-15"}),
    ("admin", LISTAR, {"hoje": "2019-01-01"}),
    ("ana", LISTAR, {}),
    ("ana", LISTAR, {"vendedor": "BRUNO", "status": "com_comentarios"}),
    ("bruno", LISTAR, {"status": "atrasada"}),
    ("admin", EMBARQUES, {}),
    ("admin", EMBARQUES, {"status": "draft"}),
    ("admin", EMBARQUES, {"status": "cancelado"}),
    ("admin", EMBARQUES, {"page": 2}),
    ("ana", EMBARQUES, {"status": "ativo"}),
    ("admin", FATURAMENTO, {"ate": ATE}),
    ("admin", FATURAMENTO, {"ate": ATE, "dias": 60}),
    ("admin", FATURAMENTO, {"ate": ATE, "dias": 1}),
    ("admin", FATURAMENTO, {"ate": ATE, "cliente": "beta"}),
    ("admin", FATURAMENTO, {"ate": ATE, "vendedor": "lima"}),
    ("admin", FATURAMENTO, {"ate": ATE, "page": 2}),
    ("ana", FATURAMENTO, {"ate": ATE, "vendedor": "BRUNO"}),
    ("bruno", FATURAMENTO, {"ate": ATE, "dias": 365}),
    ("admin", FRETES, {}),
    ("admin", FRETES, {"status": "PAGO"}),
    ("admin", FRETES, {"transportadora": 1}),
    ("admin", FRETES, {"numero_nf": "1002"}),
    ("admin", FRETES, {"numero_cte": "CTE-1"}),
    ("admin", FRETES, {"criado_de": "2026-01-01", "criado_ate": "2026-03-01"}),
    ("admin", FRETES, {"page": 2}),
    ("ana", FRETES, {}),
    ("admin", PEDIDOS, {"ate": ATE}),
    ("admin", PEDIDOS, {"ate": ATE, "dias": 60}),
    ("admin", PEDIDOS, {"ate": ATE, "status": "ABERTO"}),
    ("admin", PEDIDOS, {"ate": ATE, "status": "EMBARCADO"}),
    ("admin", PEDIDOS, {"ate": "2000-01-01"}),
    ("admin", PEDIDOS, {"ate": ATE, "page": 2}),
    ("bruno", PEDIDOS, {"ate": ATE, "dias": 60}),
]


def case_id(case: tuple[str, str, dict[str, Any]]) -> str:
    user, url, params = case
    return f"{user}{url}?" + "&".join(f"{k}={v}" for k, v in params.items())


def row_total(data: dict[str, Any]) -> int:
    """Rows shown by a page's JSON answer."""
    for key in ("entregas", "embarques", "faturas", "pedidos"):
        if key in data:
            return len(data[key]["items"])
    return len(data["items"])


# --- same answer -----------------------------------------------------------------------


@pytest.mark.parametrize(("user", "url", "params"), CASES, ids=[case_id(c) for c in CASES])
def test_optimized_json_equals_naive(
    login: Login, user: str, url: str, params: dict[str, Any]
) -> None:
    client = login(user)
    expected = fetch_json(client, url, "naive", **params)
    assert fetch_json(client, url, "optimized", **params) == expected


@pytest.mark.parametrize(
    ("user", "url", "params"),
    [
        ("admin", LISTAR, {}),
        ("ana", LISTAR, {"status": "com_agendamento"}),
        ("admin", EMBARQUES, {}),
        ("admin", FATURAMENTO, {"ate": ATE}),
        ("admin", FRETES, {}),
        ("admin", PEDIDOS, {"ate": ATE}),
    ],
)
def test_optimized_html_equals_naive(
    login: Login, user: str, url: str, params: dict[str, Any]
) -> None:
    client = login(user)
    naive_html = without_tokens(fetch(client, url, "naive", **params).get_data(as_text=True))
    assert (
        without_tokens(fetch(client, url, "optimized", **params).get_data(as_text=True))
        == naive_html
    )


# --- few, constant queries and no lazy loads --------------------------------------------


@pytest.mark.parametrize(
    ("url", "many", "few"),
    [
        (LISTAR, {}, {"status": "pendente"}),
        (LISTAR, {}, {"page": 2}),
        (EMBARQUES, {"status": "ativo"}, {"status": "draft"}),
        (FATURAMENTO, {"ate": ATE, "dias": 60}, {"ate": ATE, "cliente": "beta"}),
        (FRETES, {}, {"status": "PAGO"}),
        (PEDIDOS, {"ate": ATE, "dias": 60}, {"ate": ATE, "status": "ABERTO"}),
    ],
)
def test_optimized_query_count_is_small_and_independent_of_rows(
    login: Login, url: str, many: dict[str, Any], few: dict[str, Any]
) -> None:
    client = login("admin")
    big = fetch(client, url, "optimized", **many, format="json")
    small = fetch(client, url, "optimized", **few, format="json")
    assert row_total(big.get_json()) > row_total(small.get_json()) > 0
    expected = LOGIN_QUERIES + OPTIMIZED_QUERIES[url]
    assert query_count(big) == query_count(small) == expected
    assert query_count(fetch(client, url, "naive", **many, format="json")) > expected


@pytest.mark.parametrize("url", list(OPTIMIZED_QUERIES))
def test_optimized_pages_do_no_lazy_loads(login: Login, url: str) -> None:
    client = login("admin")
    with collect() as seen:
        fetch(client, url, "naive", ate=ATE, format="json")
    if url in (LISTAR, EMBARQUES, FRETES):  # the naive forms with a per-row N+1
        assert seen.lazy
        with pytest.raises(AssertionError, match="N\\+1"), no_n_plus_one(threshold=2):
            fetch(client, url, "naive", ate=ATE, format="json")
    with max_queries(LOGIN_QUERIES + OPTIMIZED_QUERIES[url]) as seen:
        fetch(client, url, "optimized", ate=ATE, format="json")
    assert not seen.lazy


# --- export ----------------------------------------------------------------------------


def export(client: FlaskClient, mode: str, **params: Any) -> bytes:
    return fetch(client, EXPORTAR, mode, **params).get_data()


@pytest.mark.parametrize(
    ("user", "params"),
    [
        ("admin", {}),
        ("admin", {"status": "atrasada"}),
        ("admin", {"status": "com_comentarios"}),
        ("admin", {"cliente": "alfa", "hoje": "2019-01-01"}),
        ("ana", {"vendedor": "BRUNO"}),
        ("bruno", {}),
    ],
)
def test_optimized_export_equals_naive(login: Login, user: str, params: dict[str, Any]) -> None:
    client = login(user)
    naive_csv = export(client, "naive", formato="csv", **params)
    assert export(client, "optimized", formato="csv", **params) == naive_csv
    naive_xlsx = xlsx_sheets(export(client, "naive", **params))
    assert xlsx_sheets(export(client, "optimized", **params)) == naive_xlsx


def test_export_in_many_batches_equals_naive(login: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optimized, "EXPORT_BATCH", 4)  # 23 entregas -> 6 batches
    monkeypatch.setattr(naive, "EXPORT_BATCH", 5)
    client = login("admin")
    naive_csv = export(client, "naive", formato="csv")
    assert export(client, "optimized", formato="csv") == naive_csv
    assert xlsx_sheets(export(client, "optimized")) == xlsx_sheets(export(client, "naive"))


def test_optimized_export_queries_are_constant(login: Login) -> None:
    client = login("admin")
    # user + the row cap's COUNT + entregas + one selectin query per collection and replies
    expected = LOGIN_QUERIES + 1 + 1 + 6
    with max_queries(expected) as everything:
        export(client, "optimized", formato="csv")  # 23 entregas
    with max_queries(expected) as few:
        export(client, "optimized", formato="csv", status="atrasada")  # 2 entregas
    assert everything.count == few.count == expected
    assert not everything.lazy
    with collect() as naive_export:
        export(client, "naive", formato="csv")
    assert naive_export.count > 5 * 23


# --- the switch ------------------------------------------------------------------------


def test_default_mode_is_naive_and_config_sets_it(
    login: Login, make_app: Callable[..., Flask]
) -> None:
    client = login("admin")
    naive_count = LOGIN_QUERIES + 2 + 6 + 3 * 20  # total, rows, 6 badges, 3 lazy loads per row
    optimized_count = LOGIN_QUERIES + OPTIMIZED_QUERIES[LISTAR]
    assert query_count(fetch(client, LISTAR, format="json")) == naive_count
    # the header picks the form, case-insensitively; blank means not given
    assert query_count(fetch(client, LISTAR, "Optimized", format="json")) == optimized_count
    assert query_count(fetch(client, LISTAR, "", format="json")) == naive_count
    app = make_app({"FRETES_MODE": " Optimized "})
    other = app.test_client()
    assert other.post("/login", json={"username": "admin", "password": "senha"}).status_code == 200
    assert query_count(fetch(other, LISTAR, format="json")) == optimized_count
    assert query_count(fetch(other, LISTAR, "NAIVE", format="json")) == naive_count


def test_mode_header_is_ignored_unless_a_benchmark_setting_enables_it(
    make_app: Callable[..., Flask],
) -> None:
    """A production server never lets a client pick the slow naive form."""
    app = make_app({"FRETES_MODE": "optimized", "FRETES_MODE_HEADER": False})
    client = app.test_client()
    assert client.post("/login", json={"username": "ana", "password": "senha"}).status_code == 200
    optimized_count = LOGIN_QUERIES + OPTIMIZED_QUERIES[LISTAR]
    for value in ("naive", "turbo"):  # not even read: a bad value is no 400 either
        response = fetch(client, LISTAR, value, format="json")
        assert query_count(response) == optimized_count
    enabled = make_app({"FRETES_MODE": "optimized", "FRETES_MODE_HEADER": "1"}).test_client()
    enabled.post("/login", json={"username": "ana", "password": "senha"})
    assert query_count(fetch(enabled, LISTAR, "naive", format="json")) > optimized_count


@pytest.mark.parametrize("url", [*OPTIMIZED_QUERIES, EXPORTAR])
def test_bad_header_is_400_naming_it(login: Login, url: str) -> None:
    response = login("admin").get(url, query_string={"format": "json"}, headers={HEADER: "turbo"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "X-Fretes-Mode"
    assert body["accepted"] == "one of: naive, optimized, cached"
    assert "turbo" in body["error"]


def test_bad_header_html_answer(login: Login) -> None:
    response = login("admin").get(PEDIDOS, headers={HEADER: "fast"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "X-Fretes-Mode" in response.get_data(as_text=True)


def test_bad_mode_config_refuses_to_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(BadModeConfig) as excinfo:
        make_app({"FRETES_MODE": "fast"})
    assert "FRETES_MODE" in str(excinfo.value) and "naive, optimized" in str(excinfo.value.fix)


def test_mode_is_read_once_per_request(known_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = known_app.extensions[EXTENSION_KEY]
    with known_app.test_request_context(headers={HEADER: "cached"}):
        assert current_mode() == "cached"
        # Whatever changes later in the request, its mode stays the one it started with.
        monkeypatch.setitem(
            known_app.extensions, EXTENSION_KEY, replace(registry, header_enabled=False)
        )
        assert current_mode() == "cached"
    with known_app.test_request_context(headers={HEADER: "cached"}):
        assert current_mode() == "naive"
