"""Helpers the `fretes` app tests share (imported by the test modules as ``fretes_testing``)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fretes.mode import HEADER

Login = Callable[[str], FlaskClient]
ATE = "2026-03-31"  # conftest.REF_DATE
LISTAR = "/monitoramento/listar"
EXPORTAR = "/monitoramento/exportar"
EMBARQUES = "/embarques/dashboard"
FATURAMENTO = "/faturamento/relatorio"
FRETES = "/fretes/consulta"
PEDIDOS = "/pedidos/status"
PAGES = (LISTAR, EXPORTAR, EMBARQUES, FATURAMENTO, FRETES, PEDIDOS)
# Every request also loads the logged-in user (Flask-Login's user_loader): one query.
LOGIN_QUERIES = 1
_TOKEN = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")([^"]+)"')


def fetch(client: FlaskClient, url: str, mode: str | None = None, **params: Any) -> TestResponse:
    """GET ``url`` (in ``mode`` when given), asserting a 200."""
    headers = {HEADER: mode} if mode is not None else None
    response = client.get(url, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def fetch_json(client: FlaskClient, url: str, mode: str | None = None, **params: Any) -> Any:
    """The JSON answer of ``url``."""
    return fetch(client, url, mode, **params, format="json").get_json()


def query_count(response: TestResponse) -> int:
    """Statements the request ran, from the ``Server-Timing`` header Turbina adds."""
    match = re.search(r'desc="(\d+) queries"', response.headers["Server-Timing"])
    assert match is not None, response.headers["Server-Timing"]
    return int(match.group(1))


def csrf_token(client: FlaskClient) -> str:
    """A CSRF token of ``client``'s session, as the login form renders it."""
    html = client.get("/login").get_data(as_text=True)
    match = _TOKEN.search(html)
    assert match is not None, html
    return match.group(2)


def without_tokens(html: str) -> str:
    """``html`` with its CSRF tokens blanked (they are signed with a timestamp)."""
    return _TOKEN.sub(r'\1"', html)


def xlsx_sheets(data: bytes) -> dict[str, str]:
    """Sheet name -> worksheet XML (plus shared strings under '#strings'), not the
    workbook's timestamped metadata."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    workbook = archive.read("xl/workbook.xml").decode()
    names = re.findall(r'<sheet name="([^"]+)"', workbook)
    sheets = {
        name: archive.read(f"xl/worksheets/sheet{i}.xml").decode()
        for i, name in enumerate(names, start=1)
    }
    if "xl/sharedStrings.xml" in archive.namelist():
        sheets["#strings"] = archive.read("xl/sharedStrings.xml").decode()
    return sheets


def row_count(sheet_xml: str) -> int:
    """Rows of one worksheet (its header included)."""
    return len(re.findall(r"<row ", sheet_xml))
