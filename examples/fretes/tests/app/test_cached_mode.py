"""The ``cached`` mode: same answers as naive, hits on repeats, fresh after writes, per vendedor.

Runs on the known dataset (its own copy: this module writes), once on SQLite and once on
PostgreSQL (``known_app``), with the app's default memory cache backend.
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
    FATURAMENTO,
    FRETES,
    LISTAR,
    LOGIN_QUERIES,
    PEDIDOS,
    Login,
    query_count,
)
from werkzeug.test import TestResponse

from fretes.access import cached as cached_form
from fretes.access.cached import CACHED_FUNCTIONS
from fretes.mode import CACHED, HEADER, NAIVE
from fretes.models import EntregaMonitorada, Transportadora, db

# The one table of the cached form: page path -> its cache context.
CONTEXT = {spec.path: spec.context for spec in CACHED_FUNCTIONS}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("admin", LISTAR, {}),
    ("admin", LISTAR, {"status": "com_comentarios"}),
    ("admin", LISTAR, {"page": 2}),
    ("admin", LISTAR, {"vendedor": "lima", "status": "pendente"}),
    ("admin", LISTAR, {"hoje": "2019-01-01"}),
    ("ana", LISTAR, {"vendedor": "BRUNO", "status": "todas"}),
    ("bruno", LISTAR, {"status": "atrasada"}),
    ("admin", EMBARQUES, {}),
    ("admin", EMBARQUES, {"status": "draft", "page": 2}),
    ("admin", FATURAMENTO, {"ate": ATE}),
    ("admin", FATURAMENTO, {"ate": ATE, "dias": 60, "cliente": "beta"}),
    ("ana", FATURAMENTO, {"ate": ATE, "vendedor": "BRUNO"}),
    ("bruno", FATURAMENTO, {"ate": ATE, "dias": 365}),
    ("admin", FRETES, {}),
    ("admin", FRETES, {"status": "PAGO"}),
    ("ana", FRETES, {"criado_de": "2026-01-01", "criado_ate": "2026-03-01"}),
    ("admin", PEDIDOS, {"ate": ATE}),
    ("admin", PEDIDOS, {"ate": ATE, "status": "ABERTO", "dias": 60}),
    ("bruno", PEDIDOS, {"ate": "2000-01-01"}),
]


def case_id(case: tuple[str, str, dict[str, Any]]) -> str:
    user, url, params = case
    return f"{user}{url}?" + "&".join(f"{k}={v}" for k, v in params.items())


def fetch(client: FlaskClient, url: str, mode: str, **params: Any) -> TestResponse:
    response = client.get(url, query_string={**params, "format": "json"}, headers={HEADER: mode})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def hits(app: Flask, context: str) -> int:
    return lookups(app, context)[0]


def lookups(app: Flask, context: str) -> tuple[int, int]:
    """(hits, misses) of ``context`` so far. A page may be several entries (the list is its
    page of rows plus the badge counters): a repeat is all hits, no miss."""
    with app.app_context():
        stats = app.extensions["turbina"].cache.stats()
    found = stats["contexts"].get(context, {})
    return int(found.get("hits", 0)), int(found.get("misses", 0))


def all_hits(before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Between two ``lookups``: at least one hit and no miss."""
    return after[0] > before[0] and after[1] == before[1]


def same(client: FlaskClient, url: str, **params: Any) -> Any:
    """The cached answer, asserted equal to the naive one for the same request."""
    cached = fetch(client, url, CACHED, **params).get_json()
    assert cached == fetch(client, url, NAIVE, **params).get_json()
    return cached


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cached_equals_naive_and_repeats_hit(
    case: tuple[str, str, dict[str, Any]], login: Login, known_app: Flask
) -> None:
    user, url, params = case
    client = login(user)
    naive = fetch(client, url, NAIVE, **params).get_json()
    first = fetch(client, url, CACHED, **params)
    before = lookups(known_app, CONTEXT[url])
    second = fetch(client, url, CACHED, **params)
    assert first.get_json() == second.get_json() == naive
    assert all_hits(before, lookups(known_app, CONTEXT[url]))
    assert query_count(second) == LOGIN_QUERIES  # the data part ran no query


def test_every_row_of_the_table_is_a_cached_page(login: Login, known_app: Flask) -> None:
    """Each (function, context, dependencies) row wraps its function, names a real GET page,
    and a repeated request of that page is a hit in its context."""
    routes = {rule.rule for rule in known_app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    assert {spec.path for spec in CACHED_FUNCTIONS} <= routes
    client = login("admin")
    for spec in CACHED_FUNCTIONS:
        assert getattr(cached_form, spec.name).__wrapped__ is not None
        assert spec.depends_on
        params = {"ate": ATE, "page": 3}  # a page no other test asks for: the first is a miss
        fetch(client, spec.path, CACHED, **params)
        before = lookups(known_app, spec.context)
        fetch(client, spec.path, CACHED, **params)
        assert all_hits(before, lookups(known_app, spec.context)), spec


def test_cached_mode_from_config(make_app: Callable[..., Flask]) -> None:
    app = make_app({"FRETES_MODE": "Cached", "FRETES_MODE_HEADER": False})
    client = app.test_client()
    client.post("/login", json={"username": "admin", "password": "senha"})
    first = client.get(PEDIDOS, query_string={"ate": ATE, "format": "json"})
    second = client.get(PEDIDOS, query_string={"ate": ATE, "format": "json"})
    assert first.get_json() == second.get_json()
    assert query_count(second) == LOGIN_QUERIES


def test_vendedor_page_never_served_to_another(login: Login, known_app: Flask) -> None:
    ana, bruno, admin = login("ana"), login("bruno"), login("admin")
    # Parameters no other test uses, so every first read is a miss.
    cases = (
        (LISTAR, {"status": "todas", "hoje": "2026-02-02"}),
        (FATURAMENTO, {"ate": ATE, "dias": 364}),
    )
    for url, params in cases:
        seen_ana = same(ana, url, **params)
        before = hits(known_app, CONTEXT[url])
        seen_bruno = same(bruno, url, **params)
        seen_admin = same(admin, url, **params)
        assert hits(known_app, CONTEXT[url]) == before  # two misses: separate entries
        assert seen_ana != seen_bruno != seen_admin
        assert same(ana, url, **params) == seen_ana  # and each one's entry is still theirs
    rows = seen_ana["faturas"]["items"]
    assert rows and {r["vendedor"] for r in rows} == {"ANA SOUZA"}


def listar_row(client: FlaskClient, numero_nf: str) -> dict[str, Any]:
    data = same(client, LISTAR, status="todas", cliente="")
    return next(r for r in data["entregas"]["items"] if r["numero_nf"] == numero_nf)


def entrega_id_of(app: Flask, numero_nf: str) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(EntregaMonitorada.id).filter_by(numero_nf=numero_nf)
        ).scalar_one()


def test_entrega_writes_visible_on_next_cached_read(login: Login, known_app: Flask) -> None:
    admin, target = login("admin"), entrega_id_of(known_app, "1001")
    before = listar_row(admin, "1001")
    listar_row(admin, "1001")  # now cached
    response = admin.post(f"/monitoramento/{target}/comentario", json={"texto": "Atualizado"})
    assert response.status_code == 201
    assert listar_row(admin, "1001")["comentarios"] == before["comentarios"] + 1
    response = admin.post(
        f"/monitoramento/{target}/agendamento",
        json={"data_agendada": "2026-05-02", "protocolo": "AG-C"},
    )
    assert response.status_code == 201
    assert listar_row(admin, "1001")["ultimo_agendamento"]["protocolo"] == "AG-C"
    assert admin.post(f"/monitoramento/{target}/entregar", json={}).status_code == 200
    assert listar_row(admin, "1001")["entregue"] is True


def test_frete_pedido_faturamento_writes_visible(login: Login, known_app: Flask) -> None:
    admin = login("admin")
    fretes_before = same(admin, FRETES)
    dashboard_before = same(admin, EMBARQUES)
    same(admin, FRETES), same(admin, EMBARQUES)
    with known_app.app_context():
        transp = db.session.execute(db.select(Transportadora.id).limit(1)).scalar_one()
    response = admin.post("/fretes", json={"transportadora_id": transp, "valor_cotado": "9.90"})
    assert response.status_code == 201
    assert same(admin, FRETES)["total"] == fretes_before["total"] + 1
    assert same(admin, EMBARQUES) == dashboard_before  # a frete with no embarque: unchanged

    pedidos_before = same(admin, PEDIDOS, ate=ATE)
    same(admin, PEDIDOS, ate=ATE)
    p = next(p for p in pedidos_before["pedidos"]["items"] if p["status"] != "FATURADO")
    response = admin.post(f"/pedidos/{p['id']}/status", json={"status": "FATURADO"})
    assert response.status_code == 200
    after = same(admin, PEDIDOS, ate=ATE)
    assert after["contadores"]["FATURADO"] == pedidos_before["contadores"]["FATURADO"] + 1

    report_before = same(admin, FATURAMENTO, ate=ATE)
    same(admin, FATURAMENTO, ate=ATE)
    row = {
        "numero_nf": "9800",
        "data_fatura": "2026-03-30",
        "nome_cliente": "Loja Cache",
        "cnpj_cliente": "C1",
        "valor_total": "10.00",
        "vendedor": "ANA SOUZA",
    }
    assert admin.post("/faturamento/importar", json=[row]).status_code == 201
    assert same(admin, FATURAMENTO, ate=ATE)["quantidade"] == report_before["quantidade"] + 1


def test_write_to_unread_table_keeps_entry(login: Login, known_app: Flask) -> None:
    """A log line (logs_entrega) is not shown on the list: its cached entry survives."""
    admin, target = login("admin"), entrega_id_of(known_app, "1003")
    same(admin, LISTAR, status="todas", uf="SP")
    assert admin.post(f"/monitoramento/{target}/log", json={"descricao": "x"}).status_code == 201
    before = lookups(known_app, "entregas")
    response = fetch(admin, LISTAR, CACHED, status="todas", uf="SP")
    assert all_hits(before, lookups(known_app, "entregas"))
    assert query_count(response) == LOGIN_QUERIES


def test_export_in_cached_mode_streams_like_naive(login: Login) -> None:
    admin = login("admin")
    url = "/monitoramento/exportar?formato=csv"
    cached = admin.get(url, headers={HEADER: CACHED}).get_data(as_text=True)
    assert cached == admin.get(url, headers={HEADER: NAIVE}).get_data(as_text=True)
