"""The optimized form of every page: same output as the naive form, few and constant queries,
no lazy loads, and the run-time switch (``FRETES_MODE`` / ``X-Fretes-Mode``).

Runs on the known dataset, once on SQLite and once on PostgreSQL (``known_app``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from werkzeug.test import TestResponse

from fretes.mode import HEADER, BadModeConfig, configured_mode, current_mode
from fretes.models import db
from fretes.params import BadParameter
from fretes.views.monitoramento import STATUS_MODES
from fretes.views.optimized import entregas

Login = Callable[[str], FlaskClient]
ATE = "2026-03-31"  # conftest.REF_DATE
LISTAR = "/monitoramento/listar"
EXPORTAR = "/monitoramento/exportar"
EMBARQUES = "/embarques/dashboard"
FATURAMENTO = "/faturamento/relatorio"
FRETES = "/fretes/consulta"
PEDIDOS = "/pedidos/status"
# Every request also loads the logged-in user (Flask-Login's user_loader): one query.
LOGIN_QUERIES = 1
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


def fetch(client: FlaskClient, url: str, mode: str, **params: Any) -> TestResponse:
    response = client.get(url, query_string=params, headers={HEADER: mode})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def fetch_json(client: FlaskClient, url: str, mode: str, **params: Any) -> Any:
    return fetch(client, url, mode, **params, format="json").get_json()


def query_count(response: TestResponse) -> int:
    """Statements the request ran, from the ``Server-Timing`` header of fretes.timing."""
    match = re.search(r'desc="(\d+) queries"', response.headers["Server-Timing"])
    assert match is not None, response.headers["Server-Timing"]
    return int(match.group(1))


def row_total(data: dict[str, Any]) -> int:
    """Rows shown by a page's JSON answer."""
    for key in ("entregas", "embarques", "faturas", "pedidos"):
        if key in data:
            return len(data[key]["items"])
    return len(data["items"])


@pytest.fixture
def lazy_loads() -> Iterator[list[str]]:
    """Relationship lazy loads issued while the fixture is active, as 'Class.attr'."""
    seen: list[str] = []

    def record(state: ORMExecuteState) -> None:
        if state.is_relationship_load and state.lazy_loaded_from is not None:
            seen.append(state.lazy_loaded_from.mapper.class_.__name__)

    event.listen(Session, "do_orm_execute", record)
    yield seen
    event.remove(Session, "do_orm_execute", record)


@pytest.fixture
def statements(known_app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the fixture is active."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    with known_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


# --- same answer -----------------------------------------------------------------------


@pytest.mark.parametrize(("user", "url", "params"), CASES, ids=[case_id(c) for c in CASES])
def test_optimized_json_equals_naive(
    login: Login, user: str, url: str, params: dict[str, Any]
) -> None:
    client = login(user)
    naive = fetch_json(client, url, "naive", **params)
    assert fetch_json(client, url, "optimized", **params) == naive


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
    naive = fetch(client, url, "naive", **params).get_data(as_text=True)
    assert fetch(client, url, "optimized", **params).get_data(as_text=True) == naive


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
def test_optimized_pages_do_no_lazy_loads(login: Login, lazy_loads: list[str], url: str) -> None:
    client = login("admin")
    fetch(client, url, "naive", ate=ATE, format="json")
    naive_loads = len(lazy_loads)
    lazy_loads.clear()
    fetch(client, url, "optimized", ate=ATE, format="json")
    assert lazy_loads == []
    if url in (LISTAR, EMBARQUES, FRETES):  # the naive forms with a per-row N+1
        assert naive_loads > 0


# --- export ----------------------------------------------------------------------------


def export(client: FlaskClient, mode: str, **params: Any) -> bytes:
    return fetch(client, EXPORTAR, mode, **params).get_data()


def xlsx_sheets(data: bytes) -> dict[str, str]:
    """Worksheet and shared-string XML of a workbook (not its timestamped metadata)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {
        name: archive.read(name).decode()
        for name in archive.namelist()
        if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"
    }


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


def test_optimized_export_in_many_batches_equals_naive(
    login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entregas, "EXPORT_BATCH", 4)  # 23 entregas -> 6 batches
    client = login("admin")
    naive_csv = export(client, "naive", formato="csv")
    assert export(client, "optimized", formato="csv") == naive_csv
    assert xlsx_sheets(export(client, "optimized")) == xlsx_sheets(export(client, "naive"))


def test_optimized_export_queries_are_constant(
    login: Login, statements: list[str], lazy_loads: list[str]
) -> None:
    client = login("admin")
    export(client, "optimized", formato="csv")  # 23 entregas
    everything = len(statements)
    statements.clear()
    export(client, "optimized", formato="csv", status="atrasada")  # 2 entregas
    # user + entregas + one selectin query per collection and one for the replies
    assert everything == len(statements) == LOGIN_QUERIES + 1 + 6
    assert lazy_loads == []
    statements.clear()
    export(client, "naive", formato="csv")
    assert len(statements) > 5 * 23


# --- the switch ------------------------------------------------------------------------


def test_default_mode_is_naive_and_config_sets_it(
    known_app: Flask, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login("admin")
    naive = LOGIN_QUERIES + 2 + 6 + 3 * 20  # total, rows, 6 badges, 3 lazy loads per row
    optimized = LOGIN_QUERIES + OPTIMIZED_QUERIES[LISTAR]
    assert query_count(client.get(LISTAR, query_string={"format": "json"})) == naive
    monkeypatch.setitem(known_app.config, "FRETES_MODE", "optimized")
    assert query_count(client.get(LISTAR, query_string={"format": "json"})) == optimized
    # the header wins over the config, in both directions, case-insensitively
    assert query_count(fetch(client, LISTAR, "NAIVE", format="json")) == naive
    monkeypatch.setitem(known_app.config, "FRETES_MODE", "naive")
    assert query_count(fetch(client, LISTAR, "Optimized", format="json")) == optimized
    assert query_count(fetch(client, LISTAR, "", format="json")) == naive  # blank = not given


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


def test_current_mode_reads_config_and_header(
    known_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with known_app.app_context():
        assert current_mode() == "naive"  # no request: the config (unset) decides
        monkeypatch.setitem(known_app.config, "FRETES_MODE", " Optimized ")
        assert configured_mode() == current_mode() == "optimized"
        monkeypatch.setitem(known_app.config, "FRETES_MODE", "fast")
        with pytest.raises(BadModeConfig) as excinfo:
            current_mode()
        assert "FRETES_MODE" in str(excinfo.value) and "naive, optimized" in str(excinfo.value.fix)
    with known_app.test_request_context(headers={HEADER: "naive"}):
        assert current_mode() == "naive"  # the header wins over a bad config
    monkeypatch.setitem(known_app.config, "FRETES_MODE", "naive")
    with known_app.test_request_context(headers={HEADER: "sometimes"}):
        with pytest.raises(BadParameter) as bad:
            current_mode()
        assert bad.value.parameter == HEADER
