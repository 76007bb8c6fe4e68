"""Parameter validation: the typed parsers, and every page answering 400 (never 500)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fretes_testing import Login

from fretes.params import (
    BadParameter,
    MissingParameter,
    parse_bool,
    parse_choice,
    parse_code,
    parse_date,
    parse_date_range,
    parse_decimal,
    parse_int,
    parse_page,
    parse_text,
    require_text,
)
from turbina import TurbinaError

# --- parsers ---------------------------------------------------------------------------


def test_page() -> None:
    assert parse_page({}) == 1
    assert parse_page({"page": "3"}) == 3
    assert parse_page({"page": " "}) == 1
    for bad in ("0", "-1", "abc", "1.5", "99999999"):
        with pytest.raises(BadParameter) as info:
            parse_page({"page": bad})
        assert info.value.parameter == "page"
        assert "an integer from 1 to 1000000" in str(info.value)


def test_date() -> None:
    assert parse_date({"d": "2026-02-28"}, "d") == date(2026, 2, 28)
    assert parse_date({}, "d") is None
    for bad in ("2026-02-30", "28/02/2026", "ontem", "2026-2-1"):
        with pytest.raises(BadParameter, match="YYYY-MM-DD"):
            parse_date({"d": bad}, "d")
    with pytest.raises(MissingParameter, match="missing required parameter 'd'"):
        parse_date({}, "d", required=True)


def test_date_range_must_be_ordered() -> None:
    assert parse_date_range({"a": "2026-01-01", "b": "2026-01-01"}, "a", "b") == (
        date(2026, 1, 1),
        date(2026, 1, 1),
    )
    with pytest.raises(BadParameter) as info:
        parse_date_range({"a": "2026-01-02", "b": "2026-01-01"}, "a", "b")
    assert info.value.parameter == "b" and "on or after a" in str(info.value)


def test_choice_is_case_insensitive_and_canonical() -> None:
    assert parse_choice({"s": "pago"}, "s", ("PAGO", "PENDENTE")) == "PAGO"
    assert parse_choice({}, "s", ("A",), default="A") == "A"
    with pytest.raises(BadParameter, match="one of: PAGO, PENDENTE"):
        parse_choice({"s": "x"}, "s", ("PAGO", "PENDENTE"))


def test_int_bounds_and_types() -> None:
    assert parse_int({"n": 5}, "n", minimum=1, maximum=9) == 5
    assert parse_int({"n": "+7"}, "n", minimum=1, maximum=9) == 7
    for bad in (True, "10", "x", 3.5, [1]):
        with pytest.raises(BadParameter, match="an integer from 1 to 9"):
            parse_int({"n": bad}, "n", minimum=1, maximum=9)


def test_text_decimal_bool_code() -> None:
    assert parse_text({"t": "  x "}, "t") == "x"
    with pytest.raises(BadParameter, match="at most 3 characters"):
        parse_text({"t": "abcd"}, "t", max_len=3)
    with pytest.raises(MissingParameter):
        require_text({"t": ""}, "t")
    assert parse_decimal({"v": "10.5"}, "v") == Decimal("10.50")
    assert parse_decimal({"v": 3}, "v") == Decimal("3.00")
    for bad in ("1.234", "-1", "NaN", "abc", True):
        with pytest.raises(BadParameter, match="at most 2 decimals"):
            parse_decimal({"v": bad}, "v")
    assert parse_bool({"b": "on"}, "b") is True and parse_bool({}, "b", default=True) is True
    with pytest.raises(BadParameter, match="a boolean"):
        parse_bool({"b": "talvez"}, "b")
    assert parse_code({"c": "CTE-1/2"}, "c") == "CTE-1/2"
    with pytest.raises(BadParameter, match="letters, digits"):
        parse_code({"c": "10%"}, "c")


def test_bad_parameter_is_a_turbina_error_with_a_fix() -> None:
    error = BadParameter("dias", "0", "an integer from 1 to 3650")
    assert isinstance(error, TurbinaError)
    assert error.fix == "pass dias as an integer from 1 to 3650"


# --- pages answer 400 ------------------------------------------------------------------

CASES = [
    ("/monitoramento/listar", {"page": "-1"}, "page", "an integer from 1"),
    ("/monitoramento/listar", {"page": "abc"}, "page", "an integer from 1"),
    ("/monitoramento/listar", {"page": "0"}, "page", "an integer from 1"),
    ("/monitoramento/listar", {"status": "perdida"}, "status", "pendente, entregue, atrasada"),
    ("/monitoramento/listar", {"data_embarque_de": "2026-13-01"}, "data_embarque_de", "YYYY-MM-DD"),
    ("/monitoramento/listar", {"data_embarque_ate": "ontem"}, "data_embarque_ate", "YYYY-MM-DD"),
    (
        "/monitoramento/listar",
        {"data_embarque_de": "2026-02-01", "data_embarque_ate": "2026-01-01"},
        "data_embarque_ate",
        "on or after data_embarque_de",
    ),
    ("/monitoramento/listar", {"hoje": "x"}, "hoje", "YYYY-MM-DD"),
    ("/monitoramento/listar", {"cliente": "x" * 300}, "cliente", "at most 255 characters"),
    ("/monitoramento/exportar", {"formato": "pdf"}, "formato", "one of: xlsx, csv"),
    ("/monitoramento/exportar", {"status": "x"}, "status", "sem_agendamento"),
    ("/embarques/dashboard", {"status": "ativoo"}, "status", "one of: draft, ativo, cancelado"),
    ("/embarques/dashboard", {"page": "abc"}, "page", "an integer"),
    ("/faturamento/relatorio", {"dias": "0"}, "dias", "an integer from 1 to 3650"),
    ("/faturamento/relatorio", {"dias": "4000"}, "dias", "an integer from 1 to 3650"),
    ("/faturamento/relatorio", {"dias": "abc"}, "dias", "an integer from 1 to 3650"),
    ("/faturamento/relatorio", {"ate": "31/03/2026"}, "ate", "YYYY-MM-DD"),
    ("/fretes/consulta", {"status": "FOO"}, "status", "PENDENTE, EM_TRATATIVA"),
    ("/fretes/consulta", {"transportadora": "abc"}, "transportadora", "an integer"),
    ("/fretes/consulta", {"criado_de": "2026-02-30"}, "criado_de", "YYYY-MM-DD"),
    ("/fretes/consulta", {"numero_nf": "1%"}, "numero_nf", "letters, digits"),
    ("/fretes/consulta", {"page": "-1"}, "page", "an integer from 1"),
    ("/pedidos/status", {"ate": "amanha"}, "ate", "YYYY-MM-DD"),
    ("/pedidos/status", {"status": "xyz"}, "status", "ABERTO, COTADO, EMBARCADO, FATURADO"),
    ("/pedidos/status", {"dias": "-5"}, "dias", "an integer from 1 to 3650"),
]


@pytest.mark.parametrize(("url", "params", "parameter", "accepted"), CASES)
def test_bad_parameter_json(
    login: Login, url: str, params: dict[str, str], parameter: str, accepted: str
) -> None:
    response = login("admin").get(url, query_string={**params, "format": "json"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == parameter
    assert f"'{parameter}'" in body["error"] and accepted in body["error"]


@pytest.mark.parametrize(("url", "params", "parameter", "accepted"), CASES)
def test_bad_parameter_html(
    login: Login, url: str, params: dict[str, str], parameter: str, accepted: str
) -> None:
    response = login("ana").get(url, query_string=params)
    assert response.status_code == 400 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"<code>{parameter}</code>" in html and accepted.split(",")[0] in html


def test_unknown_format_is_400_not_500(login: Login) -> None:
    response = login("admin").get("/pedidos/status?format=xml")
    assert response.status_code == 400
    assert "one of: html, json" in response.get_data(as_text=True)


def test_unknown_route_is_404_json_or_html(login: Login) -> None:
    client = login("admin")
    as_json = client.get("/nada?format=json")
    assert as_json.status_code == 404 and "error" in as_json.get_json()
    as_html = client.get("/nada")
    assert as_html.status_code == 404 and "Erro 404" in as_html.get_data(as_text=True)
