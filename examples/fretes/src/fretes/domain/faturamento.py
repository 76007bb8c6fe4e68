"""The faturamento report (GET /faturamento/relatorio) and the import of a batch of invoices
(POST /faturamento/importar).

The window is the ``dias`` calendar days ending at ``ate`` inclusive:
``ate - (dias - 1) <= data_fatura <= ate``; only active rows count. A vendedor sees only rows
whose vendedor is theirs (forced, not overridable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fretes.domain.paging import Page
from fretes.models import RelatorioFaturamentoImportado
from fretes.params import (
    BadParameter,
    parse_bool,
    parse_code,
    parse_date,
    parse_decimal,
    parse_int,
    parse_page,
    parse_text,
)

PER_PAGE = 20
MAX_DIAS = 3650
# Bounded output: the report lists the top clients by sum; the totals cover all of them.
MAX_CLIENTES = 100
CENT = Decimal("0.01")


@dataclass(frozen=True)
class FiltrosFaturamento:
    """Validated report filters."""

    dias: int
    ate: date
    vendedor: str | None
    cliente: str | None
    page: int

    @property
    def desde(self) -> date:
        """First day of the window (inclusive)."""
        return self.ate - timedelta(days=self.dias - 1)


@dataclass
class TotalCliente:
    """Per-client aggregate of the window."""

    cnpj_cliente: str | None
    nome_cliente: str | None
    quantidade: int
    valor_total: Decimal
    ticket_medio: Decimal


@dataclass
class LinhaFatura:
    """One invoice of the list."""

    id: int
    numero_nf: str
    data_fatura: date | None
    cnpj_cliente: str | None
    nome_cliente: str | None
    valor_total: Decimal | None
    vendedor: str | None
    municipio: str | None
    estado: str | None


@dataclass
class RelatorioFaturamento:
    """What /faturamento/relatorio shows."""

    desde: date
    ate: date
    dias: int
    quantidade: int
    valor_total: Decimal
    ticket_medio: Decimal
    clientes: list[TotalCliente]
    faturas: Page[LinhaFatura]


def parse_filtros(args: Mapping[str, Any], today: date | None = None) -> FiltrosFaturamento:
    """Read and validate the report's parameters (raises BadParameter)."""
    dias = parse_int(args, "dias", minimum=1, maximum=MAX_DIAS, default=30)
    assert dias is not None
    return FiltrosFaturamento(
        dias=dias,
        ate=parse_date(args, "ate") or today or date.today(),
        vendedor=parse_text(args, "vendedor", max_len=120),
        cliente=parse_text(args, "cliente", max_len=255),
        page=parse_page(args),
    )


def conditions(filtros: FiltrosFaturamento, forcado: str | None) -> list[sa.ColumnElement[bool]]:
    """Window, active rows, and the vendedor (forced or ILIKE) and cliente filters."""
    f = RelatorioFaturamentoImportado
    conds: list[sa.ColumnElement[bool]] = [
        f.ativo.is_(True),
        f.data_fatura >= filtros.desde,
        f.data_fatura <= filtros.ate,
    ]
    if forcado is not None:
        conds.append(f.vendedor == forcado)
    elif filtros.vendedor:
        conds.append(f.vendedor.ilike(f"%{filtros.vendedor}%"))
    if filtros.cliente:
        conds.append(f.nome_cliente.ilike(f"%{filtros.cliente}%"))
    return conds


def media(total: Decimal, quantidade: int) -> Decimal:
    """Average ticket, to the cent (0.00 for no invoice)."""
    return (total / quantidade).quantize(CENT) if quantidade else Decimal("0.00")


def total_cliente(cnpj: str | None, nome: str | None, quantidade: int, valor: Any) -> TotalCliente:
    """One client's aggregate from a grouped row."""
    soma = Decimal(valor or 0).quantize(CENT)
    return TotalCliente(cnpj, nome, quantidade, soma, media(soma, quantidade))


def relatorio(
    filtros: FiltrosFaturamento,
    quantidade: int,
    soma: Any,
    clientes: list[TotalCliente],
    faturas: list[LinhaFatura],
) -> RelatorioFaturamento:
    """The report from the window's count and sum, the client groups and the page."""
    soma_total = Decimal(soma or 0).quantize(CENT)
    return RelatorioFaturamento(
        desde=filtros.desde,
        ate=filtros.ate,
        dias=filtros.dias,
        quantidade=quantidade,
        valor_total=soma_total,
        ticket_medio=media(soma_total, quantidade),
        clientes=clientes,
        faturas=Page(faturas, filtros.page, PER_PAGE, quantidade),
    )


RESULT_TYPES = (RelatorioFaturamento, TotalCliente, LinhaFatura)

# --- the per-client chart (GET /faturamento/grafico) ---------------------------------

# Bars of the chart: the report's top clients by total (the table below it lists them all).
GRAFICO_CLIENTES = 12


def filtros_do_grafico(filtros: FiltrosFaturamento) -> FiltrosFaturamento:
    """The chart ignores the invoice page: every page of one report shares the first page's
    (cached) report."""
    return replace(filtros, page=1)


def grafico_clientes(dados: RelatorioFaturamento, limite: int = GRAFICO_CLIENTES) -> dict[str, Any]:
    """The Chart.js config (JSON-ready) of the report's top ``limite`` clients: horizontal
    bars of their totals. Values are exact decimal strings, as everywhere in the JSON (Chart.js
    parses numeric strings)."""
    top = dados.clientes[:limite]
    return {
        "type": "bar",
        "data": {
            "labels": [c.nome_cliente or c.cnpj_cliente or "—" for c in top],
            "datasets": [
                {
                    "label": "Total faturado (R$)",
                    "data": [str(c.valor_total) for c in top],
                    "backgroundColor": "#1f5f99",
                }
            ],
        },
        "options": {
            "indexAxis": "y",
            "responsive": True,
            "maintainAspectRatio": False,
            "animation": False,
            "plugins": {"legend": {"display": False}},
        },
    }


# --- import ----------------------------------------------------------------------------

MAX_BATCH = 1000
FIELDS = (
    "data_fatura",
    "cnpj_cliente",
    "nome_cliente",
    "valor_total",
    "vendedor",
    "municipio",
    "estado",
    "ativo",
)


def linhas_do_corpo(body: Any) -> list[Any]:
    """The batch: a non-empty JSON list of at most ``MAX_BATCH`` objects."""
    if not isinstance(body, list) or not body:
        raise BadParameter(
            "body", type(body).__name__, "a non-empty JSON list of faturamento objects"
        )
    if len(body) > MAX_BATCH:
        raise BadParameter("body", f"{len(body)} rows", f"at most {MAX_BATCH} rows per batch")
    return body


def linhas_do_formulario(text: str) -> list[Any]:
    """The batch from a form field holding its JSON text."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise BadParameter("linhas", text, "a JSON list of faturamento objects") from None
    return linhas_do_corpo(body)


def parse_linha(index: int, raw: Any) -> dict[str, Any]:
    """Validate one row; parameter names in errors look like ``[3].valor_total``."""
    if not isinstance(raw, Mapping):
        raise BadParameter(f"[{index}]", type(raw).__name__, "a JSON object")
    p = f"[{index}]."
    # Only the known fields are read: a key the client made up is never echoed back.
    row = {p + k: raw[k] for k in ("numero_nf", *FIELDS) if k in raw}
    numero_nf = parse_code(row, p + "numero_nf")
    if numero_nf is None:
        raise BadParameter(
            p + "numero_nf", None, "a code of 1 to 20 letters, digits, '.', '-' or '/'"
        )
    parsed: dict[str, Any] = {
        "numero_nf": numero_nf,
        "data_fatura": parse_date(row, p + "data_fatura"),
        "cnpj_cliente": parse_text(row, p + "cnpj_cliente", max_len=20),
        "nome_cliente": parse_text(row, p + "nome_cliente", max_len=255),
        "valor_total": parse_decimal(row, p + "valor_total"),
        "vendedor": parse_text(row, p + "vendedor", max_len=120),
        "municipio": parse_text(row, p + "municipio", max_len=100),
        "estado": parse_text(row, p + "estado", max_len=2),
        "ativo": parse_bool(row, p + "ativo", default=True),
    }
    given = {name for name in FIELDS if name in raw}
    return {k: v for k, v in parsed.items() if k == "numero_nf" or k in given}


def parse_lote(linhas: list[Any]) -> list[dict[str, Any]]:
    """Validate every row; the same numero_nf twice in one batch is a 400."""
    parsed = [parse_linha(i, raw) for i, raw in enumerate(linhas)]
    seen: dict[str, int] = {}
    for i, row in enumerate(parsed):
        if row["numero_nf"] in seen:
            raise BadParameter(
                f"[{i}].numero_nf",
                row["numero_nf"],
                f"a numero_nf not already used in this batch (row {seen[row['numero_nf']]})",
            )
        seen[row["numero_nf"]] = i
    return parsed
