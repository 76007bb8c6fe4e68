"""Optimized faturamento report (GET /faturamento/relatorio) and pedidos status
(GET /pedidos/status).

Faturamento: two queries — the per-client groups carry the window's overall count and sum
as window aggregates (``SUM(COUNT(*)) OVER ()``, computed over every group before the
top-clients LIMIT), then the page of invoices as plain column tuples (no ORM objects).

Pedidos: two queries — one ``GROUP BY status`` gives both the per-status counters (over all
pedidos) and the filtered total (a conditional count per group), then the page as tuples.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from fretes.models import PEDIDO_STATUSES, Pedido, RelatorioFaturamentoImportado, db
from fretes.views.faturamento import (
    CENT,
    MAX_CLIENTES,
    FiltrosFaturamento,
    LinhaFatura,
    RelatorioFaturamento,
    TotalCliente,
    _media,
    conditions,
)
from fretes.views.faturamento import PER_PAGE as FATURAS_PER_PAGE
from fretes.views.pedidos import PER_PAGE as PEDIDOS_PER_PAGE
from fretes.views.pedidos import FiltrosPedidos, LinhaPedido, StatusPedidos
from fretes.views.rendering import Page


def relatorio_faturamento(filtros: FiltrosFaturamento, forcado: str | None) -> RelatorioFaturamento:
    """The optimized data function of the faturamento report (same result as the naive one)."""
    f = RelatorioFaturamentoImportado
    conds = conditions(filtros, forcado)
    soma_col = sa.func.coalesce(sa.func.sum(f.valor_total), 0)
    grupos = db.session.execute(
        sa.select(
            f.cnpj_cliente,
            f.nome_cliente,
            sa.func.count(),
            soma_col.label("soma"),
            sa.func.sum(sa.func.count()).over().label("quantidade_total"),
            sa.func.sum(sa.func.sum(f.valor_total)).over().label("soma_total"),
        )
        .where(*conds)
        .group_by(f.cnpj_cliente, f.nome_cliente)
        .order_by(sa.desc("soma"), f.nome_cliente)
        .limit(MAX_CLIENTES)
    ).all()
    # No group means no matching row at all: the totals are then 0.
    quantidade = int(grupos[0].quantidade_total) if grupos else 0
    soma = grupos[0].soma_total if grupos else None
    soma_total = Decimal(soma or 0).quantize(CENT)
    clientes = []
    for cnpj, nome, qtd, valor, _, _ in grupos:
        valor = Decimal(valor or 0).quantize(CENT)
        clientes.append(TotalCliente(cnpj, nome, qtd, valor, _media(valor, qtd)))
    rows = db.session.execute(
        sa.select(
            f.id,
            f.numero_nf,
            f.data_fatura,
            f.cnpj_cliente,
            f.nome_cliente,
            f.valor_total,
            f.vendedor,
            f.municipio,
            f.estado,
        )
        .where(*conds)
        .order_by(f.data_fatura.desc(), f.id.desc())
        .limit(FATURAS_PER_PAGE)
        .offset((filtros.page - 1) * FATURAS_PER_PAGE)
    ).all()
    return RelatorioFaturamento(
        desde=filtros.desde,
        ate=filtros.ate,
        dias=filtros.dias,
        quantidade=quantidade,
        valor_total=soma_total,
        ticket_medio=_media(soma_total, quantidade),
        clientes=clientes,
        faturas=Page(
            [LinhaFatura(**row._asdict()) for row in rows],
            filtros.page,
            FATURAS_PER_PAGE,
            quantidade,
        ),
    )


def status_pedidos(filtros: FiltrosPedidos) -> StatusPedidos:
    """The optimized data function of the pedidos status page (same result as the naive one)."""
    p = Pedido
    conds: list[sa.ColumnElement[bool]] = [p.expedicao >= filtros.desde, p.expedicao <= filtros.ate]
    if filtros.status:
        conds.append(p.status == filtros.status)
    grupos = db.session.execute(
        sa.select(p.status, sa.func.count(), sa.func.count(sa.case((sa.and_(*conds), 1)))).group_by(
            p.status
        )
    ).all()
    por_status = {status: int(n) for status, n, _ in grupos}
    contadores = {status: por_status.get(status, 0) for status in PEDIDO_STATUSES}
    total = sum(int(filtrados) for _, _, filtrados in grupos)
    rows = db.session.execute(
        sa.select(
            p.id,
            p.num_pedido,
            p.cnpj_cpf,
            p.raz_social_red,
            p.nome_cidade,
            p.cod_uf,
            p.rota,
            p.sub_rota,
            p.expedicao,
            p.status,
            p.valor_saldo_total,
            p.peso_total,
        )
        .where(*conds)
        .order_by(p.rota.asc().nulls_last(), p.sub_rota.asc().nulls_last(), p.expedicao, p.id)
        .limit(PEDIDOS_PER_PAGE)
        .offset((filtros.page - 1) * PEDIDOS_PER_PAGE)
    ).all()
    return StatusPedidos(
        filtros.desde,
        filtros.ate,
        contadores,
        Page([LinhaPedido(**row._asdict()) for row in rows], filtros.page, PEDIDOS_PER_PAGE, total),
    )
