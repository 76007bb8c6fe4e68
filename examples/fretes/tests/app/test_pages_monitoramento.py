"""The monitoring list and its export on the known dataset (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from fretes_testing import Login, row_count, xlsx_sheets

from fretes.export import Sheet, build_csv, build_xlsx, stream_file
from turbina import collect

KNOWN = {"1001", "1002", "1003", "1004", "1005"}
FILLERS = 18  # delivered filler entregas of the known dataset (conftest.FILLERS)


def listar(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/monitoramento/listar", query_string={**params, "format": "json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def nfs(data: dict[str, Any]) -> list[str]:
    return [row["numero_nf"] for row in data["entregas"]["items"]]


def test_admin_first_page_rows_total_and_badges(login: Login) -> None:
    data = listar(login("admin"))
    page = data["entregas"]
    assert page["total"] == 5 + FILLERS and page["per_page"] == 20 and page["pages"] == 2
    assert nfs(data)[:5] == ["1004", "1002", "1003", "1001", "1005"]  # criado_em desc
    assert len(page["items"]) == 20
    assert data["badges"] == {
        "pendente": 3,
        "entregue": 1 + FILLERS,
        "atrasada": 2,
        "reagendar": 1,
        "sem_agendamento": 2,
        "com_comentarios": 2,
    }


def test_row_shows_last_agendamento_comment_count_and_extra_costs(login: Login) -> None:
    rows = {r["numero_nf"]: r for r in listar(login("admin"))["entregas"]["items"]}
    first = rows["1001"]
    assert first["ultimo_agendamento"]["protocolo"] == "P-2"
    assert first["ultimo_agendamento"]["data_agendada"] == "2026-01-14"
    assert first["comentarios"] == 2
    assert first["custos_extras"] == "120.50"
    assert first["valor_nf"] == "1500.50"
    assert first["situacao"] == "Atrasada"
    assert first["criado_em"] == "2026-01-10T10:00:00"
    assert rows["1002"]["ultimo_agendamento"] is None
    assert rows["1002"]["custos_extras"] == "0.00"
    assert rows["1005"]["situacao"] == "Cancelada"


def test_second_page(login: Login) -> None:
    data = listar(login("admin"), page=2)
    assert data["entregas"]["page"] == 2
    assert len(data["entregas"]["items"]) == 5 + FILLERS - 20
    assert listar(login("admin"), page=9)["entregas"]["items"] == []


@pytest.mark.parametrize(
    ("status", "expected", "total"),
    [
        ("todas", KNOWN, 5 + FILLERS),
        ("pendente", {"1001", "1002", "1004"}, 3),
        ("entregue", {"1003"}, 1 + FILLERS),
        ("atrasada", {"1001", "1004"}, 2),
        ("no_prazo", {"1002"}, 1),
        ("reagendar", {"1002"}, 1),
        ("sem_agendamento", {"1002", "1004"}, 2),
        ("com_agendamento", {"1001"}, 1),
        ("com_comentarios", {"1001", "1003"}, 2),
        ("pendencia_financeira", {"1004"}, 1),
        ("finalizada", {"1003", "1005"}, 2 + FILLERS),
        ("cancelada", {"1005"}, 1),
        ("devolvida", set(), 0),
    ],
)
def test_status_modes(login: Login, status: str, expected: set[str], total: int) -> None:
    data = listar(login("admin"), status=status)
    assert data["status"] == status
    assert data["entregas"]["total"] == total
    assert set(nfs(data)) & KNOWN == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"cliente": "alfa"}, {"1001", "1003"}),
        ({"uf": "rj"}, {"1002"}),
        ({"transportadora": "RAPIDO"}, {"1001", "1003"}),
        ({"municipio": "horizonte"}, {"1004"}),
        ({"vendedor": "ana"}, {"1001", "1002", "1005"}),
        ({"vendedor": "lima", "status": "pendente"}, {"1004"}),
        ({"data_embarque_de": "2026-01-15", "data_embarque_ate": "2026-02-15"}, {"1002", "1003"}),
        ({"data_embarque_de": "2026-02-01"}, {"1002", "1004"}),
    ],
)
def test_filters(login: Login, params: dict[str, str], expected: set[str]) -> None:
    data = listar(login("admin"), **params)
    assert set(nfs(data)) == expected
    assert data["entregas"]["total"] == len(expected)


def test_badges_follow_filters_but_not_status(login: Login) -> None:
    data = listar(login("admin"), cliente="alfa", status="entregue")
    assert nfs(data) == ["1003"]
    assert data["badges"]["pendente"] == 1 and data["badges"]["entregue"] == 1


def test_hoje_moves_the_late_boundary(login: Login) -> None:
    assert listar(login("admin"), hoje="2019-01-01")["badges"]["atrasada"] == 0


def test_vendedor_sees_only_own_rows_and_cannot_override(login: Login) -> None:
    ana = listar(login("ana"))
    assert set(nfs(ana)) == {"1001", "1002", "1005"}
    assert ana["badges"]["pendente"] == 2 and ana["badges"]["entregue"] == 0
    assert set(nfs(listar(login("ana"), vendedor="BRUNO"))) == {"1001", "1002", "1005"}
    assert set(nfs(listar(login("bruno"), vendedor=""))) == {"1003", "1004"}


def test_html_page(login: Login) -> None:
    response = login("admin").get("/monitoramento/listar?cliente=alfa")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Mercado Alfa Ltda" in html and "Padaria Beta" not in html
    assert "1.500,50" in html and "120,50" in html and "P-2" in html
    # The badges are a fragment the page loads when seen (FRETES_ASSETS=lazy, the default).
    assert 'data-lazy="fragment" data-src="/monitoramento/badges?cliente=alfa"' in html
    badges = login("admin").get("/monitoramento/badges?cliente=alfa").get_data(as_text=True)
    assert re.search(r'data-badge="com_comentarios">2<', badges)
    assert re.search(r"/static/dist/app\.[0-9a-f]{16}\.css", html)
    assert 'name="vendedor"' in html  # admins get the vendedor filter
    assert 'name="vendedor"' not in login("ana").get("/monitoramento/listar").get_data(as_text=True)


def test_naive_listar_really_lazy_loads_per_row(login: Login) -> None:
    with collect() as seen:
        listar(login("admin"))
    # three collections (agendamentos, comentarios, custos_extras) per row, 20 rows
    loads = {group.attribute: group.count for group in seen.lazy.values()}
    assert loads == {
        "EntregaMonitorada.agendamentos": 20,
        "EntregaMonitorada.comentarios": 20,
        "EntregaMonitorada.custos_extras": 20,
    }


# --- export ----------------------------------------------------------------------------


def test_export_xlsx_is_a_multi_sheet_workbook(login: Login) -> None:
    response = login("admin").get("/monitoramento/exportar")
    assert response.status_code == 200
    assert str(response.mimetype).endswith("spreadsheetml.sheet")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".xlsx" in response.headers["Content-Disposition"]
    sheets = xlsx_sheets(response.data)
    assert [n for n in sheets if n != "#strings"] == [
        "Entregas",
        "Agendamentos",
        "Logs",
        "Eventos",
        "Custos",
        "Comentarios",
    ]
    assert row_count(sheets["Entregas"]) == 1 + 5 + FILLERS
    assert row_count(sheets["Agendamentos"]) == 1 + 3
    assert row_count(sheets["Logs"]) == 1 + 1
    assert row_count(sheets["Eventos"]) == 1 + 1
    assert row_count(sheets["Custos"]) == 1 + 2
    assert row_count(sheets["Comentarios"]) == 1 + 3
    text = "".join(sheets.values())
    assert "Mercado Alfa Ltda" in text and "Cliente pediu nova data" in text


def export_csv(client: FlaskClient, **params: Any) -> list[dict[str, str]]:
    response = client.get("/monitoramento/exportar", query_string={**params, "formato": "csv"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "attachment;" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_export_csv_rows(login: Login) -> None:
    rows = export_csv(login("admin"))
    assert len(rows) == 5 + FILLERS
    assert [r["numero_nf"] for r in rows[:5]] == ["1004", "1002", "1003", "1001", "1005"]
    first = next(r for r in rows if r["numero_nf"] == "1001")
    assert first["agendamentos"] == "2" and first["ultimo_agendamento"] == "2026-01-14"
    assert first["logs"] == "1" and first["eventos"] == "1"
    assert first["custos_extras"] == "120.50"
    assert first["comentarios"] == "2" and first["respostas"] == "1"
    assert first["valor_nf"] == "1500.50" and first["entregue"] == "nao"


def test_export_applies_filters_and_forced_vendedor(login: Login) -> None:
    assert {r["numero_nf"] for r in export_csv(login("admin"), status="atrasada")} == {
        "1001",
        "1004",
    }
    ana = export_csv(login("ana"), vendedor="BRUNO")
    assert {r["numero_nf"] for r in ana} == {"1001", "1002", "1005"}
    sheets = xlsx_sheets(login("bruno").get("/monitoramento/exportar").data)
    assert row_count(sheets["Entregas"]) == 1 + 2


def test_export_helpers_write_types_and_close_the_temp_file() -> None:
    handle = build_xlsx(
        [Sheet("A", ("x", "y")), Sheet("B", ("z",))],
        [("A", (1, "=1+1")), ("B", (Decimal("2.50"),)), ("A", (date(2026, 1, 2), None))],
    )
    data = b"".join(stream_file(handle))
    assert handle.closed
    sheets = xlsx_sheets(data)
    assert row_count(sheets["A"]) == 3 and row_count(sheets["B"]) == 2
    assert "<f>" not in sheets["A"]  # strings are never turned into formulas
    csv_handle = build_csv(
        ("a", "b", "c", "d"), [(Decimal("1.5"), True, datetime(2026, 1, 2, 3, 4), None)]
    )
    lines = b"".join(stream_file(csv_handle)).decode()
    assert csv_handle.closed
    assert lines == "a,b,c,d\r\n1.50,sim,2026-01-02T03:04:00,\r\n"
