"""Embarques, faturamento, fretes and pedidos pages on the known dataset, and login rules."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import ATE, PAGES, Login, csrf_token

from fretes.models import Transportadora, db


def get_json(client: FlaskClient, url: str, **params: Any) -> Any:
    response = client.get(url, query_string={**params, "format": "json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def get_html(client: FlaskClient, url: str, **params: Any) -> str:
    response = client.get(url, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


# --- login -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_login(known_app: Flask, url: str) -> None:
    client = known_app.test_client()
    html = client.get(url)
    assert html.status_code == 302 and "/login" in html.headers["Location"]
    assert client.get(url, query_string={"format": "json"}).status_code == 401


def test_bad_login_and_html_login_flow(known_app: Flask) -> None:
    client = known_app.test_client()
    assert client.post("/login", json={"username": "admin", "password": "x"}).status_code == 401
    page = client.get("/login")
    assert page.status_code == 200 and "/static/dist/app." in page.get_data(as_text=True)
    response = client.post(
        "/login?next=/pedidos/status",
        data={"username": "ana", "password": "senha", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/pedidos/status"
    assert client.get("/").headers["Location"].endswith("/monitoramento/listar")
    assert "Ana Souza" in get_html(client, "/pedidos/status")


# --- embarques -------------------------------------------------------------------------


def test_embarques_dashboard_json(login: Login) -> None:
    data = get_json(login("admin"), "/embarques/dashboard")
    assert data["status"] == "ativo"
    assert data["contadores"] == {"draft": 1, "ativo": 2, "cancelado": 1, "total": 4}
    rows = data["embarques"]["items"]
    assert [r["numero"] for r in rows] == [100, 101]
    first = rows[0]
    assert first["transportadora"] == "Rapido Sul Transportes"
    assert (first["itens"], first["itens_peso"], first["itens_valor"]) == (2, "30.500", "1500.00")
    assert (first["fretes"], first["fretes_valor_cotado"]) == (1, "250.00")
    assert first["data_embarque"] == "2026-03-01"
    assert (rows[1]["itens"], rows[1]["fretes"], rows[1]["transportadora"]) == (1, 0, "Trans Norte")


def test_embarques_other_status_and_html(login: Login) -> None:
    cancelado = get_json(login("admin"), "/embarques/dashboard", status="cancelado")
    assert [(r["numero"], r["transportadora"]) for r in cancelado["embarques"]["items"]] == [
        (103, None)
    ]
    html = get_html(login("bruno"), "/embarques/dashboard")
    assert "Rapido Sul Transportes" in html and "1.500,00" in html
    assert 'data-counter="ativo">2<' in html


# --- faturamento -----------------------------------------------------------------------


def test_faturamento_report_admin(login: Login) -> None:
    data = get_json(login("admin"), "/faturamento/relatorio", ate=ATE)
    assert (data["desde"], data["ate"], data["dias"]) == ("2026-03-02", ATE, 30)
    assert (data["quantidade"], data["valor_total"], data["ticket_medio"]) == (
        4,
        "3800.00",
        "950.00",
    )
    assert [
        (c["nome_cliente"], c["quantidade"], c["valor_total"], c["ticket_medio"])
        for c in data["clientes"]
    ] == [
        ("Padaria Beta", 1, "2000.00", "2000.00"),
        ("Mercado Alfa Ltda", 2, "1500.00", "750.00"),
        ("Comercial Gama", 1, "300.00", "300.00"),
    ]
    assert [f["numero_nf"] for f in data["faturas"]["items"]] == ["9001", "9004", "9003", "9002"]
    assert data["faturas"]["total"] == 4


def test_faturamento_window_and_filters(login: Login) -> None:
    admin = login("admin")
    assert get_json(admin, "/faturamento/relatorio", ate=ATE, dias=60)["quantidade"] == 5
    assert get_json(admin, "/faturamento/relatorio", ate=ATE, dias=1)["faturas"]["items"] == []
    assert get_json(admin, "/faturamento/relatorio", ate="2026-03-30", dias=1)["quantidade"] == 1
    beta = get_json(admin, "/faturamento/relatorio", ate=ATE, cliente="beta")
    assert [c["nome_cliente"] for c in beta["clientes"]] == ["Padaria Beta"]
    lima = get_json(admin, "/faturamento/relatorio", ate=ATE, vendedor="lima")
    assert [f["numero_nf"] for f in lima["faturas"]["items"]] == ["9004"]


def test_faturamento_vendedor_forced(login: Login) -> None:
    ana = get_json(login("ana"), "/faturamento/relatorio", ate=ATE, vendedor="BRUNO")
    assert [f["numero_nf"] for f in ana["faturas"]["items"]] == ["9001", "9003", "9002"]
    assert ana["valor_total"] == "3500.00"
    bruno = get_json(login("bruno"), "/faturamento/relatorio", ate=ATE)
    assert [c["nome_cliente"] for c in bruno["clientes"]] == ["Comercial Gama"]


def test_faturamento_html(login: Login) -> None:
    html = get_html(login("admin"), "/faturamento/relatorio", ate=ATE)
    assert "Padaria Beta" in html and "3.800,00" in html and "02/03/2026" in html
    assert 'name="vendedor"' in html


# --- fretes ----------------------------------------------------------------------------


def fretes(client: FlaskClient, **params: Any) -> list[str | None]:
    data = get_json(client, "/fretes/consulta", **params)
    return [row["numeros_nfs"] for row in data["items"]]


def test_fretes_list(login: Login) -> None:
    data = get_json(login("admin"), "/fretes/consulta")
    assert (data["total"], data["per_page"]) == (3, 50)
    first, second, third = data["items"]
    assert (first["numeros_nfs"], first["transportadora"], first["embarque_numero"]) == (
        "1001,1003",
        "Rapido Sul Transportes",
        100,
    )
    assert first["embarque_data"] == "2026-03-01" and first["valor_cotado"] == "250.00"
    assert (second["embarque_numero"], second["transportadora"]) == (None, "Trans Norte")
    assert (third["status"], third["valor_pago"]) == ("PAGO", "40.00")


def test_fretes_filters(known_app: Flask, login: Login) -> None:
    admin = login("admin")
    assert fretes(admin, numero_nf="1001") == ["1001,1003"]
    assert fretes(admin, numero_nf="1002") == ["21001, 1002"]
    assert fretes(admin, numero_nf="21001") == ["21001, 1002"]
    assert fretes(admin, numero_nf="100") == []
    assert fretes(admin, status="PAGO") == ["5000"]
    assert fretes(admin, status="pago") == ["5000"]
    assert fretes(admin, numero_cte="CTE-3") == ["5000"]
    assert fretes(admin, criado_de="2026-01-01") == ["1001,1003", "21001, 1002"]
    assert fretes(admin, criado_ate="2026-03-02") == ["1001,1003", "21001, 1002", "5000"]
    assert fretes(admin, criado_ate="2026-03-01") == ["21001, 1002", "5000"]
    with known_app.app_context():
        norte = db.session.execute(
            db.select(Transportadora.id).filter_by(razao_social="Trans Norte")
        ).scalar_one()
    assert fretes(admin, transportadora=norte) == ["21001, 1002"]


def test_fretes_html(login: Login) -> None:
    html = get_html(login("ana"), "/fretes/consulta")
    assert "CTE-1" in html and "Rapido Sul Transportes" in html and "250,00" in html
    assert "<option value=" in html  # carrier filter choices


# --- pedidos ---------------------------------------------------------------------------


def test_pedidos_status(login: Login) -> None:
    data = get_json(login("admin"), "/pedidos/status", ate=ATE)
    assert data["contadores"] == {"ABERTO": 2, "COTADO": 1, "EMBARCADO": 1, "FATURADO": 1}
    assert (data["desde"], data["ate"]) == ("2026-03-02", ATE)
    rows = data["pedidos"]["items"]
    assert [r["num_pedido"] for r in rows] == ["P1", "P5", "P2", "P4"]  # rota, sub_rota, expedicao
    assert rows[0]["expedicao"] == "2026-03-26" and rows[0]["valor_saldo_total"] == "100.00"


def test_pedidos_filters_and_html(login: Login) -> None:
    admin = login("admin")
    wider = get_json(admin, "/pedidos/status", ate=ATE, dias=60)
    assert [r["num_pedido"] for r in wider["pedidos"]["items"]] == ["P1", "P5", "P2", "P3", "P4"]
    abertos = get_json(admin, "/pedidos/status", ate=ATE, status="aberto")
    assert [r["num_pedido"] for r in abertos["pedidos"]["items"]] == ["P1", "P5"]
    html = get_html(admin, "/pedidos/status", ate=ATE)
    assert "Cliente P1" in html and "Cliente P3" not in html
    assert 'data-counter="ABERTO">2<' in html
