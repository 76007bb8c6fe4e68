"""The lazy parts of the pages and the asset modes: GET /monitoramento/badges (the list's
counters as a fragment), GET /faturamento/grafico (the report's per-client chart), the
fingerprinted bundles base.html links after a build, and FRETES_ASSETS=pipeline|plain.

Runs on the known dataset, once on SQLite and once on PostgreSQL (``known_app``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from fretes_testing import ATE, FATURAMENTO, LISTAR, Login, fetch, fetch_json
from werkzeug.test import TestResponse

from fretes.domain.faturamento import GRAFICO_CLIENTES
from fretes.domain.monitoramento import BADGES
from fretes.mode import CACHED, MODES, NAIVE, OPTIMIZED
from fretes.models import db
from fretes.settings import SettingError
from turbina import get_state

BADGES_URL = "/monitoramento/badges"
GRAFICO = "/faturamento/grafico"
LAZY = {"X-Requested-With": "turbina-lazy"}
# Each badge as plain SQL over the seed's table, written independently of the app's
# conditions (open = not finalised and not delivered).
ABERTA = "status_finalizacao IS NULL AND entregue = false"
BADGE_SQL = {
    "pendente": ABERTA,
    "entregue": "entregue = true",
    "atrasada": f"{ABERTA} AND data_entrega_prevista < :hoje",
    "reagendar": f"{ABERTA} AND reagendar = true",
    "sem_agendamento": f"{ABERTA} AND id NOT IN (SELECT entrega_id FROM agendamentos_entrega)",
    "com_comentarios": "id IN (SELECT entrega_id FROM comentarios_nf)",
}


def direct_counts(app: Flask, hoje: str, vendedor: str | None = None) -> dict[str, int]:
    where = "" if vendedor is None else " AND vendedor = :vendedor"
    with app.app_context():
        return {
            badge: int(
                db.session.execute(
                    sa.text(f"SELECT COUNT(*) FROM entregas_monitoradas WHERE {cond}{where}"),
                    {"hoje": date.fromisoformat(hoje), "vendedor": vendedor},
                ).scalar_one()
            )
            for badge, cond in BADGE_SQL.items()
        }


def badge_values(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-badge="(\w+)">(\d+)<', html)}


# --- GET /monitoramento/badges -------------------------------------------------------


def test_badges_fragment_counts_match_a_direct_query(login: Login, known_app: Flask) -> None:
    response = fetch(login("admin"), BADGES_URL, hoje=ATE)
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith("<ul")  # a fragment, not a page
    counts = badge_values(html)
    assert list(counts) == list(BADGES)
    assert counts == direct_counts(known_app, ATE)
    # Hand-checked against the known dataset (conftest): e1, e2, e4 open; e3 + 18 fillers
    # delivered; e1 and e4 late; e2 to reschedule; e2, e4 without agendamento; e1, e3 commented.
    assert counts == {
        "pendente": 3,
        "entregue": 19,
        "atrasada": 2,
        "reagendar": 1,
        "sem_agendamento": 2,
        "com_comentarios": 2,
    }


def test_badges_equal_the_lists_own_counters(login: Login) -> None:
    client = login("admin")
    for params in ({}, {"cliente": "alfa"}, {"uf": "SP", "status": "atrasada", "page": 2}):
        listed = fetch_json(client, LISTAR, **params)["badges"]
        assert fetch_json(client, BADGES_URL, **params) == {"contagens": listed}


@pytest.mark.parametrize(
    "params",
    [{}, {"status": "pendente"}, {"cliente": "alfa", "uf": "SP"}, {"hoje": "2019-01-01"}],
    ids=str,
)
def test_badges_same_in_every_mode(login: Login, params: dict[str, Any]) -> None:
    client = login("admin")
    answers = [fetch_json(client, BADGES_URL, mode, **params) for mode in MODES]
    answers.append(fetch_json(client, BADGES_URL, CACHED, **params))  # a hit this time
    assert all(answer == answers[0] for answer in answers)


def test_badges_of_a_vendedor_count_only_their_entregas(login: Login, known_app: Flask) -> None:
    for user, vendedor in (("ana", "ANA SOUZA"), ("bruno", "BRUNO LIMA")):
        for mode in (NAIVE, OPTIMIZED, CACHED):
            # the vendedor parameter cannot widen a vendedor's view, as on the list
            html = fetch(login(user), BADGES_URL, mode, hoje=ATE, vendedor="").get_data(
                as_text=True
            )
            assert badge_values(html) == direct_counts(known_app, ATE, vendedor)
            other = fetch_json(login(user), BADGES_URL, mode, hoje=ATE, vendedor="CARLOS")
            assert other["contagens"] == badge_values(html)
    assert fetch_json(login("ana"), BADGES_URL)["contagens"]["entregue"] == 0


def test_badges_of_a_vendedor_account_without_a_name_are_forbidden(login: Login) -> None:
    assert login("zeca").get(BADGES_URL).status_code == 403


def test_badges_links_go_to_the_list_with_the_same_filters(login: Login) -> None:
    html = fetch(login("admin"), BADGES_URL, cliente="alfa", status="atrasada", page=3).get_data(
        as_text=True
    )
    links = re.findall(r'<a href="([^"]+)" class="counter (\w+) ?(active)?', html)
    assert {status for _, status, _ in links} == set(BADGES)
    for href, status, active in links:
        assert href == f"{LISTAR}?cliente=alfa&amp;status={status}"
        assert bool(active) == (status == "atrasada")


def test_badges_need_a_login(known_app: Flask) -> None:
    anonymous = known_app.test_client()
    page = anonymous.get(BADGES_URL)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    # fetched by turbina-lazy.js: a 401 the element shows in place, not the login form
    lazy = anonymous.get(BADGES_URL, headers=LAZY)
    assert lazy.status_code == 401 and lazy.get_json() == {"error": "login required"}
    assert anonymous.get(BADGES_URL, query_string={"format": "json"}).status_code == 401


def test_bad_badge_filters_are_a_400_naming_the_parameter(login: Login) -> None:
    response = login("admin").get(BADGES_URL, query_string={"status": "nope", "format": "json"})
    assert response.status_code == 400 and response.get_json()["parameter"] == "status"


# --- GET /faturamento/grafico ----------------------------------------------------------


def grafico(client: Any, mode: str | None = None, **params: Any) -> dict[str, Any]:
    response: TestResponse = fetch(client, GRAFICO, mode, **params)
    assert response.mimetype == "application/json"
    data: dict[str, Any] = response.get_json()
    return data


def bars(config: dict[str, Any]) -> dict[str, Decimal]:
    labels = config["data"]["labels"]
    values = config["data"]["datasets"][0]["data"]
    return {label: Decimal(value) for label, value in zip(labels, values, strict=True)}


def test_grafico_is_a_chart_config_of_the_reports_clients(login: Login) -> None:
    client = login("admin")
    config = grafico(client, ate=ATE, dias=365)
    assert config["type"] == "bar" and config["options"]["indexAxis"] == "y"
    report = fetch_json(client, FATURAMENTO, ate=ATE, dias=365)
    expected = {c["nome_cliente"]: Decimal(c["valor_total"]) for c in report["clientes"]}
    assert bars(config) == expected
    assert bars(config) == {
        "Padaria Beta": Decimal("2000.00"),
        "Mercado Alfa Ltda": Decimal("2499.00"),
        "Comercial Gama": Decimal("300.00"),  # 9006 (777.00) is inactive: not counted
    }
    assert config["data"]["labels"][0] == "Mercado Alfa Ltda"  # the largest first
    assert len(config["data"]["labels"]) <= GRAFICO_CLIENTES
    # the invoice page does not change the chart
    assert grafico(client, ate=ATE, dias=365, page=2) == config


def test_grafico_same_in_every_mode(login: Login) -> None:
    client = login("admin")
    for params in ({"ate": ATE}, {"ate": ATE, "dias": 60, "cliente": "beta"}):
        answers = [grafico(client, mode, **params) for mode in (*MODES, CACHED)]
        assert all(answer == answers[0] for answer in answers)


def test_grafico_of_a_vendedor_shows_only_their_clients(login: Login) -> None:
    for mode in (NAIVE, OPTIMIZED, CACHED):
        ana = bars(grafico(login("ana"), mode, ate=ATE, dias=365, vendedor="BRUNO"))
        assert ana == {"Mercado Alfa Ltda": Decimal("2499.00"), "Padaria Beta": Decimal("2000.00")}
        bruno = bars(grafico(login("bruno"), mode, ate=ATE, dias=365))
        assert bruno == {"Comercial Gama": Decimal("300.00")}


def test_grafico_needs_a_login(known_app: Flask) -> None:
    anonymous = known_app.test_client()
    assert anonymous.get(GRAFICO).status_code == 302
    assert anonymous.get(GRAFICO, headers=LAZY).status_code == 401


# --- the pages' assets -------------------------------------------------------------------


def test_pages_link_the_fingerprinted_bundles_of_the_build(login: Login, known_app: Flask) -> None:
    assets = get_state(known_app).assets
    assert assets is not None and assets.manifest is not None  # the test app built them
    files = {name: entry.file for name, entry in assets.manifest.entries.items()}
    assert set(files) == {"app.css", "graficos.js", "chart.js", "favicon.svg", "turbina-lazy.js"}
    client = login("admin")
    response = fetch(client, FATURAMENTO, ate=ATE)
    html = response.get_data(as_text=True)
    css = f"/static/dist/{files['app.css']}"
    lazy_js = f"/static/dist/{files['turbina-lazy.js']}"
    assert f'<link rel="stylesheet" href="{css}">' in html
    assert (
        f'<script src="{lazy_js}" data-chart-lib="/static/dist/{files["chart.js"]}" defer>' in html
    )
    assert "fretes.css" not in html and "chart.umd.js" not in html  # no plain file linked
    assert f"<{css}>; rel=preload; as=style" in response.headers["Link"]
    assert f'data-lazy="chart" data-src="{GRAFICO}?ate={ATE}"' in html
    assert "data-grafico" not in html  # the chart's data is not in the page
    for url in (css, lazy_js):
        with client.get(url, headers={"Accept-Encoding": "br, gzip"}) as static:
            assert static.status_code == 200
            assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert static.headers["Content-Encoding"] == "br"
    with client.get(f"/static/dist/{files['chart.js']}") as chart:
        assert chart.get_data().startswith(b"/*!\n * Chart.js v4.6.1")  # the license header kept


def test_only_pages_with_lazy_parts_load_the_lazy_loader(login: Login, known_app: Flask) -> None:
    client = login("admin")
    assert "turbina-lazy." in fetch(client, LISTAR).get_data(as_text=True)
    for url in ("/embarques/dashboard", "/fretes/consulta", "/pedidos/status"):
        html = fetch(client, url).get_data(as_text=True)
        assert "/static/dist/app." in html and "<script" not in html, url
    login_page = known_app.test_client().get("/login").get_data(as_text=True)
    assert "/static/dist/app." in login_page and "<script" not in login_page


def test_pipeline_mode_links_the_bundles_with_everything_eager(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app({"FRETES_ASSETS": "pipeline"}).test_client()
    client.post("/login", json={"username": "admin", "password": "senha"})
    listar = fetch(client, LISTAR, hoje=ATE).get_data(as_text=True)
    assert "data-lazy" not in listar and "turbina-lazy" not in listar
    assert badge_values(listar)["entregue"] == 19
    html = fetch(client, FATURAMENTO, ate=ATE, dias=365).get_data(as_text=True)
    assert re.search(r'<script src="/static/dist/chart\.[0-9a-f]{16}\.js" defer>', html)
    assert re.search(r'<script src="/static/dist/graficos\.[0-9a-f]{16}\.js" defer>', html)
    assert "chart." not in listar  # Chart.js only where a chart is
    canvas = re.search(r"<canvas data-grafico='([^']+)'>", html)
    assert canvas is not None and "Mercado Alfa Ltda" in canvas.group(1)


def test_plain_mode_is_the_seeds_way(make_app: Callable[..., Flask]) -> None:
    client = make_app({"FRETES_ASSETS": "plain"}).test_client()
    client.post("/login", json={"username": "admin", "password": "senha"})
    listar = fetch(client, LISTAR, hoje=ATE)
    html = listar.get_data(as_text=True)
    assert '<link rel="stylesheet" href="/static/fretes.css">' in html
    assert "/static/dist/" not in html and "data-lazy" not in html
    assert badge_values(html)["pendente"] == 3
    assert "Content-Encoding" not in client.get(LISTAR, headers={"Accept-Encoding": "br"}).headers
    report = fetch(client, FATURAMENTO, ate=ATE).get_data(as_text=True)
    assert '<script src="/static/vendor/chart.umd.js"></script>' in report  # in <head>, blocking
    with client.get("/static/fretes.css", headers={"Accept-Encoding": "br, gzip"}) as css:
        assert css.status_code == 200 and "Content-Encoding" not in css.headers
        assert "immutable" not in css.headers.get("Cache-Control", "")


def test_asset_mode_errors_name_the_key(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(SettingError, match="FRETES_ASSETS='eager' is invalid"):
        make_app({"FRETES_ASSETS": "eager"})
    with pytest.raises(SettingError, match="FRETES_ASSETS=lazy needs Turbina"):
        make_app({"FRETES_ASSETS": "lazy", "FRETES_TURBINA": False})
    plain = make_app({"FRETES_TURBINA": False}).test_client()  # without Turbina: plain files
    plain.post("/login", json={"username": "admin", "password": "senha"})
    assert "/static/fretes.css" in fetch(plain, LISTAR).get_data(as_text=True)
