"""Writes: each works (JSON and form), is visible on the next read, and respects roles.

This module has its own copy of the known dataset (module-scoped fixture), so its writes never
leak into the read-only page tests. Each test touches its own rows or asserts relative changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from fretes_testing import Login, csrf_token

from fretes.models import LogEntrega, Transportadora, db

EntregaId = Callable[[str], int]


def row(client: FlaskClient, numero_nf: str) -> dict[str, Any]:
    data = client.get(
        "/monitoramento/listar", query_string={"format": "json", "cliente": "", "status": "todas"}
    ).get_json()
    matches = [r for r in data["entregas"]["items"] if r["numero_nf"] == numero_nf]
    assert matches, numero_nf
    return matches[0]


def csv_row(client: FlaskClient, numero_nf: str) -> dict[str, str]:
    text = client.get("/monitoramento/exportar?formato=csv").get_data(as_text=True)
    return next(r for r in csv.DictReader(io.StringIO(text)) if r["numero_nf"] == numero_nf)


def test_log_json_and_form(login: Login, entrega_id: EntregaId, known_app: Flask) -> None:
    admin, target = login("admin"), entrega_id("1001")
    before = int(csv_row(admin, "1001")["logs"])
    response = admin.post(
        f"/monitoramento/{target}/log", json={"descricao": "Ligação feita", "tipo": "contato"}
    )
    assert response.status_code == 201
    new_id = response.get_json()["id"]
    form = admin.post(
        f"/monitoramento/{target}/log",
        data={"descricao": "via form", "csrf_token": csrf_token(admin)},
        headers={"Referer": "/monitoramento/listar?page=1"},
    )
    assert form.status_code == 303 and form.headers["Location"] == "/monitoramento/listar?page=1"
    assert int(csv_row(admin, "1001")["logs"]) == before + 2
    with known_app.app_context():
        log = db.session.get(LogEntrega, new_id)
        assert log is not None and (log.autor, log.tipo) == ("Administrador", "contato")


def test_evento(login: Login, entrega_id: EntregaId) -> None:
    admin = login("admin")
    response = admin.post(
        f"/monitoramento/{entrega_id('1004')}/evento",
        json={"tipo_evento": "chegada", "motorista": "João"},
    )
    assert response.status_code == 201 and response.get_json()["id"] > 0
    assert csv_row(admin, "1004")["eventos"] == "1"


def test_comentario_and_reply(login: Login, entrega_id: EntregaId) -> None:
    admin, target = login("admin"), entrega_id("1002")
    assert row(admin, "1002")["comentarios"] == 0
    first = admin.post(f"/monitoramento/{target}/comentario", json={"texto": "Cliente ausente"})
    assert first.status_code == 201
    reply = admin.post(
        f"/monitoramento/{target}/comentario",
        json={"texto": "Nova tentativa amanhã", "resposta_a_id": first.get_json()["id"]},
    )
    assert reply.status_code == 201 and reply.get_json()["resposta_a_id"] == first.get_json()["id"]
    assert row(admin, "1002")["comentarios"] == 2
    assert csv_row(admin, "1002")["respostas"] == "1"


def test_reply_to_a_comment_of_another_entrega_is_400(login: Login, entrega_id: EntregaId) -> None:
    admin = login("admin")
    other = admin.post(f"/monitoramento/{entrega_id('1003')}/comentario", json={"texto": "x"})
    response = admin.post(
        f"/monitoramento/{entrega_id('1005')}/comentario",
        json={"texto": "y", "resposta_a_id": other.get_json()["id"]},
    )
    assert response.status_code == 400 and response.get_json()["parameter"] == "resposta_a_id"


def test_agendamento_sets_last_schedule(login: Login, entrega_id: EntregaId) -> None:
    ana = login("ana")
    response = ana.post(
        f"/monitoramento/{entrega_id('1002')}/agendamento",
        data={
            "data_agendada": "2026-04-10",
            "protocolo": "AG-9",
            "status": "confirmado",
            "csrf_token": csrf_token(ana),
        },
    )
    assert response.status_code == 303
    current = row(ana, "1002")
    assert current["ultimo_agendamento"]["protocolo"] == "AG-9"
    assert current["data_agenda"] == "2026-04-10"
    bad = ana.post(
        f"/monitoramento/{entrega_id('1002')}/agendamento", json={"data_agendada": "10/04"}
    )
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "data_agendada"


def test_entregar(login: Login, entrega_id: EntregaId) -> None:
    bruno = login("bruno")
    response = bruno.post(f"/monitoramento/{entrega_id('1004')}/entregar", json={})
    assert response.status_code == 200
    assert response.get_json() == {
        "id": entrega_id("1004"),
        "entregue": True,
        "status_finalizacao": "Entregue",
    }
    current = row(bruno, "1004")
    assert current["entregue"] is True and current["status_finalizacao"] == "Entregue"


def test_vendedor_writes_only_own_entregas(login: Login, entrega_id: EntregaId) -> None:
    """Another vendedor's entrega answers exactly like an id that does not exist: the answer
    never tells a vendedor which ids exist."""
    ana = login("ana")
    for path, body in (
        ("log", {"descricao": "x"}),
        ("evento", {"tipo_evento": "x"}),
        ("comentario", {"texto": "x"}),
        ("agendamento", {"data_agendada": "2026-01-01"}),
        ("entregar", {}),
    ):
        theirs = ana.post(f"/monitoramento/{entrega_id('1003')}/{path}", json=body)
        unknown = ana.post(f"/monitoramento/999999/{path}", json=body)
        assert theirs.status_code == unknown.status_code == 404, path
        assert theirs.get_json() == unknown.get_json() == {"error": "entrega not found"}
    assert (
        ana.post(f"/monitoramento/{entrega_id('1005')}/log", json={"descricao": "ok"}).status_code
        == 201
    )


def test_unknown_entrega_404_missing_field_400_and_login(login: Login, known_app: Flask) -> None:
    admin = login("admin")
    assert admin.post("/monitoramento/999999/log", json={"descricao": "x"}).status_code == 404
    missing = admin.post("/monitoramento/1/log", json={"tipo": "info"})
    assert missing.status_code == 400 and missing.get_json()["parameter"] == "descricao"
    not_object = admin.post("/monitoramento/1/log", json=["x"])
    assert not_object.status_code == 400 and not_object.get_json()["parameter"] == "body"
    anonymous = known_app.test_client().post("/monitoramento/1/log", json={"descricao": "x"})
    assert anonymous.status_code == 401


def _transportadora_id(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(Transportadora.id).filter_by(razao_social="Trans Norte")
        ).scalar_one()


def test_create_frete(login: Login, known_app: Flask) -> None:
    olga, transp = login("olga"), _transportadora_id(known_app)
    response = olga.post(
        "/fretes",
        json={
            "transportadora_id": transp,
            "valor_cotado": "123.40",
            "numeros_nfs": "7001, 7002",
            "nome_cliente": "Nova Loja",
        },
    )
    assert response.status_code == 201
    found = olga.get("/fretes/consulta?format=json&numero_nf=7002").get_json()["items"]
    assert [
        (f["id"], f["numeros_nfs"], f["status"], f["valor_cotado"], f["transportadora"])
        for f in found
    ] == [(response.get_json()["id"], "7001,7002", "PENDENTE", "123.40", "Trans Norte")]
    form = olga.post(
        "/fretes",
        data={
            "transportadora_id": str(transp),
            "valor_cotado": "10",
            "csrf_token": csrf_token(olga),
        },
    )
    assert form.status_code == 303


def test_create_frete_rejects_bad_input(login: Login, known_app: Flask) -> None:
    admin, transp = login("admin"), _transportadora_id(known_app)
    for body, parameter in (
        ({"valor_cotado": "1"}, "transportadora_id"),
        ({"transportadora_id": 999999, "valor_cotado": "1"}, "transportadora_id"),
        ({"transportadora_id": transp}, "valor_cotado"),
        ({"transportadora_id": transp, "valor_cotado": "1", "status": "X"}, "status"),
        ({"transportadora_id": transp, "valor_cotado": "1", "embarque_id": 999999}, "embarque_id"),
        ({"transportadora_id": transp, "valor_cotado": "1", "numeros_nfs": "1,2%"}, "numeros_nfs"),
    ):
        response = admin.post("/fretes", json=body)
        assert response.status_code == 400 and response.get_json()["parameter"] == parameter, body


def test_pedido_status_change(login: Login, known_app: Flask) -> None:
    admin = login("admin")
    before = admin.get("/pedidos/status?format=json&ate=2026-03-31").get_json()
    p2 = next(p for p in before["pedidos"]["items"] if p["num_pedido"] == "P2")
    response = admin.post(f"/pedidos/{p2['id']}/status", json={"status": "embarcado"})
    assert response.status_code == 200
    assert response.get_json() == {"id": p2["id"], "status": "EMBARCADO", "anterior": "COTADO"}
    after = admin.get("/pedidos/status?format=json&ate=2026-03-31").get_json()
    assert after["contadores"]["COTADO"] == before["contadores"]["COTADO"] - 1
    assert after["contadores"]["EMBARCADO"] == before["contadores"]["EMBARCADO"] + 1
    assert admin.post(f"/pedidos/{p2['id']}/status", json={"status": "PERDIDO"}).status_code == 400
    assert admin.post(f"/pedidos/{p2['id']}/status", json={}).get_json()["parameter"] == "status"
    assert admin.post("/pedidos/999999/status", json={"status": "ABERTO"}).status_code == 404


def relatorio(client: FlaskClient) -> dict[str, Any]:
    return client.get("/faturamento/relatorio?format=json&ate=2026-03-31").get_json()


def test_import_faturamento_upserts(login: Login) -> None:
    admin = login("admin")
    before = relatorio(admin)
    response = admin.post(
        "/faturamento/importar",
        json=[
            {
                "numero_nf": "9100",
                "data_fatura": "2026-03-28",
                "nome_cliente": "Nova Loja",
                "cnpj_cliente": "N1",
                "valor_total": "450.00",
                "vendedor": "ANA SOUZA",
            },
            {"numero_nf": "9003", "valor_total": "2100.00"},
        ],
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["inserted"], body["updated"], len(body["ids"])) == (1, 1, 2)
    after = relatorio(admin)
    assert after["quantidade"] == before["quantidade"] + 1
    assert after["faturas"]["items"][0]["numero_nf"] == "9001"
    assert {c["nome_cliente"]: c["valor_total"] for c in after["clientes"]}[
        "Padaria Beta"
    ] == "2100.00"
    assert "Nova Loja" in {c["nome_cliente"] for c in after["clientes"]}
    again = admin.post("/faturamento/importar", json=[{"numero_nf": "9100", "ativo": False}])
    assert again.status_code == 200 and again.get_json()["updated"] == 1
    assert relatorio(admin)["quantidade"] == before["quantidade"]


def test_import_faturamento_rejects(login: Login) -> None:
    admin = login("admin")
    duplicate = admin.post(
        "/faturamento/importar", json=[{"numero_nf": "9200"}, {"numero_nf": "9200"}]
    )
    assert duplicate.status_code == 400 and duplicate.get_json()["parameter"] == "[1].numero_nf"
    bad_value = admin.post(
        "/faturamento/importar", json=[{"numero_nf": "9201", "valor_total": "x"}]
    )
    assert bad_value.status_code == 400 and bad_value.get_json()["parameter"] == "[0].valor_total"
    assert (
        admin.post("/faturamento/importar", json={"numero_nf": "1"}).get_json()["parameter"]
        == "body"
    )
    assert admin.post("/faturamento/importar", json=[]).status_code == 400
    form = admin.post(
        "/faturamento/importar", data={"linhas": "{oops", "csrf_token": csrf_token(admin)}
    )
    assert form.status_code == 400 and "<code>linhas</code>" in form.get_data(as_text=True)
    missing = admin.post("/faturamento/importar", json=[{"valor_total": "1.00"}])
    assert missing.get_json()["parameter"] == "[0].numero_nf"


def test_back_office_writes_need_admin_or_operacoes(login: Login, known_app: Flask) -> None:
    """pedidos, fretes and the faturamento import are back-office writes: a vendedor gets a
    403 that names the roles, and nothing is written."""
    ana, transp = login("ana"), _transportadora_id(known_app)
    before = relatorio(login("admin"))
    pedido = login("admin").get("/pedidos/status?format=json&ate=2026-03-31").get_json()
    pedido_id = pedido["pedidos"]["items"][0]["id"]
    for url, body in (
        ("/fretes", {"transportadora_id": transp, "valor_cotado": "1.00"}),
        (f"/pedidos/{pedido_id}/status", {"status": "FATURADO"}),
        ("/faturamento/importar", [{"numero_nf": "9300", "valor_total": "10.00"}]),
    ):
        response = ana.post(url, json=body)
        assert response.status_code == 403, url
        assert response.get_json() == {"error": "this action needs the role admin or operacoes"}
    assert relatorio(login("admin")) == before
    olga = login("olga")
    own = olga.post("/faturamento/importar", json=[{"numero_nf": "9301", "valor_total": "1.00"}])
    assert own.status_code == 201
    assert olga.post(f"/pedidos/{pedido_id}/status", json={"status": "ABERTO"}).status_code == 200
