"""GET /faturamento/relatorio — invoiced totals per client over the last N days, plus a
paginated list of the invoices; POST /faturamento/importar — import a batch of rows.

The window is the ``dias`` calendar days ending at ``ate`` inclusive:
``ate - (dias - 1) <= data_fatura <= ate``; only active rows count. A vendedor sees only rows
whose vendedor is theirs (forced, not overridable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request
from flask_login import login_required

from fretes.mode import is_cached, is_optimized
from fretes.models import RelatorioFaturamentoImportado, db
from fretes.params import parse_date, parse_int, parse_page, parse_text
from fretes.views.rendering import Page, respond, vendedor_forcado

bp = Blueprint("faturamento", __name__, url_prefix="/faturamento")

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


def parse_filtros(args: Any) -> FiltrosFaturamento:
    """Read and validate the report's parameters (raises BadParameter)."""
    dias = parse_int(args, "dias", minimum=1, maximum=MAX_DIAS, default=30)
    assert dias is not None
    return FiltrosFaturamento(
        dias=dias,
        ate=parse_date(args, "ate") or date.today(),
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


def _media(total: Decimal, quantidade: int) -> Decimal:
    return (total / quantidade).quantize(CENT) if quantidade else Decimal("0.00")


def relatorio_faturamento(filtros: FiltrosFaturamento, forcado: str | None) -> RelatorioFaturamento:
    """The naive data function of the faturamento report."""
    f = RelatorioFaturamentoImportado
    conds = conditions(filtros, forcado)
    quantidade, soma = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(f.valor_total)).where(*conds)
    ).one()
    soma_total = Decimal(soma or 0).quantize(CENT)
    soma_col = sa.func.coalesce(sa.func.sum(f.valor_total), 0)
    grupos = db.session.execute(
        sa.select(f.cnpj_cliente, f.nome_cliente, sa.func.count(), soma_col.label("soma"))
        .where(*conds)
        .group_by(f.cnpj_cliente, f.nome_cliente)
        .order_by(sa.desc("soma"), f.nome_cliente)
        .limit(MAX_CLIENTES)
    ).all()
    clientes = []
    for cnpj, nome, qtd, valor in grupos:
        valor = Decimal(valor or 0).quantize(CENT)
        clientes.append(TotalCliente(cnpj, nome, qtd, valor, _media(valor, qtd)))
    rows = (
        db.session.execute(
            sa.select(f)
            .where(*conds)
            .order_by(f.data_fatura.desc(), f.id.desc())
            .limit(PER_PAGE)
            .offset((filtros.page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    faturas = [
        LinhaFatura(
            r.id,
            r.numero_nf,
            r.data_fatura,
            r.cnpj_cliente,
            r.nome_cliente,
            r.valor_total,
            r.vendedor,
            r.municipio,
            r.estado,
        )
        for r in rows
    ]
    return RelatorioFaturamento(
        desde=filtros.desde,
        ate=filtros.ate,
        dias=filtros.dias,
        quantidade=quantidade,
        valor_total=soma_total,
        ticket_medio=_media(soma_total, quantidade),
        clientes=clientes,
        faturas=Page(faturas, filtros.page, PER_PAGE, quantidade),
    )


@bp.get("/relatorio")
@login_required
def relatorio() -> Any:
    """Faturamento report (HTML or ``?format=json``)."""
    filtros = parse_filtros(request.args)
    if is_optimized():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import relatorios as optimized

        data = optimized.relatorio_faturamento(filtros, vendedor_forcado())
    elif is_cached():
        from fretes.views import cached

        data = cached.relatorio_faturamento(filtros, vendedor_forcado())
    else:
        data = relatorio_faturamento(filtros, vendedor_forcado())
    return respond(
        "faturamento/relatorio.html", data, filtros=filtros, is_admin=vendedor_forcado() is None
    )
