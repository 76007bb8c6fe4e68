"""The naive form of the pages' data access: what the real system does.

A COUNT per counter, and per row a lazy load of each relationship the row shows — the real
N+1 the optimized form and Turbina's N+1 detector are measured against. No indexes, no cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from fretes.domain import embarques as embarques_page
from fretes.domain import faturamento as faturamento_page
from fretes.domain import fretes as fretes_page
from fretes.domain import monitoramento as monitoramento_page
from fretes.domain import pedidos as pedidos_page
from fretes.domain.embarques import DashboardEmbarques, LinhaEmbarque, TotaisEmbarque
from fretes.domain.faturamento import FiltrosFaturamento, LinhaFatura, RelatorioFaturamento
from fretes.domain.fretes import FiltrosFretes, LinhaFrete
from fretes.domain.monitoramento import (
    AgendamentoResumo,
    BadgesEntregas,
    EntregaExport,
    ExtrasLinha,
    FiltrosEntregas,
    LinhaEntrega,
    ListaEntregas,
)
from fretes.domain.paging import Page
from fretes.domain.pedidos import FiltrosPedidos, LinhaPedido, StatusPedidos
from fretes.models import (
    EMBARQUE_STATUSES,
    PEDIDO_STATUSES,
    Embarque,
    EntregaMonitorada,
    Pedido,
    RelatorioFaturamentoImportado,
    db,
)

# Entregas per export batch. Streaming in batches keeps the export's memory constant in this
# form too (the lazy loads per row, its N+1, are unchanged: yield_per adds no query).
EXPORT_BATCH = 500
ZERO = Decimal("0")


def linha_naive(entrega: EntregaMonitorada, hoje: date) -> LinhaEntrega:
    """Build a row; each relationship access is a lazy load (the naive N+1)."""
    agendamentos = entrega.agendamentos
    ultimo = agendamentos[-1] if agendamentos else None
    extras = ExtrasLinha(
        comentarios=len(entrega.comentarios),
        custos_extras=sum((c.valor for c in entrega.custos_extras), ZERO),
        ultimo_agendamento=None
        if ultimo is None
        else AgendamentoResumo(ultimo.id, ultimo.data_agendada, ultimo.protocolo, ultimo.status),
    )
    return monitoramento_page.linha(entrega, extras, hoje)


def listar_entregas(
    filtros: FiltrosEntregas, forcado: str | None, com_badges: bool = True
) -> ListaEntregas:
    """The monitoring list: a COUNT, the page, one COUNT per badge (unless ``com_badges`` is
    off), three lazy loads per row."""
    per_page = monitoramento_page.PER_PAGE
    total = db.session.execute(monitoramento_page.contagem(filtros, forcado)).scalar_one()
    rows = (
        db.session.execute(
            monitoramento_page.entregas_em_ordem(filtros, forcado)
            .limit(per_page)
            .offset((filtros.page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    badges = contar_badges(filtros, forcado).contagens if com_badges else None
    linhas = [linha_naive(entrega, filtros.hoje) for entrega in rows]
    return ListaEntregas(Page(linhas, filtros.page, per_page, total), badges, filtros.status)


def contar_badges(filtros: FiltrosEntregas, forcado: str | None) -> BadgesEntregas:
    """The badge counters: one COUNT per badge."""
    e = EntregaMonitorada
    base = monitoramento_page.base_conditions(filtros, forcado)
    contagens: dict[str, int] = {}
    for badge in monitoramento_page.BADGES:
        cond = monitoramento_page.status_condition(badge, filtros.hoje)
        assert cond is not None  # every badge is a real status mode
        contagens[badge] = db.session.execute(
            sa.select(sa.func.count()).select_from(e).where(*base, cond)
        ).scalar_one()
    return BadgesEntregas(contagens)


def contar_exportacao(filtros: FiltrosEntregas, forcado: str | None) -> int:
    """How many entregas the export holds."""
    return int(db.session.execute(monitoramento_page.contagem(filtros, forcado)).scalar_one())


def exportar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> Iterator[EntregaExport]:
    """Every matching entrega, newest first; per entrega a lazy load of each of its five
    collections and, per comment, of its replies (the real system's export shape)."""
    entregas = db.session.execute(
        monitoramento_page.entregas_em_ordem(filtros, forcado).execution_options(
            yield_per=EXPORT_BATCH
        )
    ).scalars()
    for x in entregas:
        yield monitoramento_page.export_row(x, filtros.hoje)


def linha_embarque_naive(embarque: Embarque) -> LinhaEmbarque:
    """Build a row; transportadora, itens and fretes are each a lazy load."""
    itens = embarque.itens
    fretes = embarque.fretes
    totais = TotaisEmbarque(
        itens=len(itens),
        itens_peso=sum((i.peso or ZERO for i in itens), ZERO),
        itens_valor=sum((i.valor or ZERO for i in itens), ZERO),
        fretes=len(fretes),
        fretes_valor_cotado=sum((f.valor_cotado or ZERO for f in fretes), ZERO),
    )
    return embarques_page.linha_embarque(embarque, totais)


def dashboard_embarques(status: str, page: int) -> DashboardEmbarques:
    """The embarques dashboard: one COUNT per status, then three lazy loads per embarque."""
    contadores: dict[str, int] = {}
    for value in EMBARQUE_STATUSES:
        contadores[value] = db.session.execute(
            sa.select(sa.func.count()).select_from(Embarque).where(Embarque.status == value)
        ).scalar_one()
    contadores["total"] = db.session.execute(
        sa.select(sa.func.count()).select_from(Embarque)
    ).scalar_one()
    rows = db.session.execute(embarques_page.embarques_em_ordem(status, page)).scalars().all()
    linhas = [linha_embarque_naive(embarque) for embarque in rows]
    return embarques_page.dashboard(status, page, contadores, linhas)


def consultar_fretes(filtros: FiltrosFretes) -> Page[LinhaFrete]:
    """The fretes list: the total, the page, and per row a lazy load of its transportadora
    and of its embarque."""
    total = db.session.execute(fretes_page.contagem(filtros)).scalar_one()
    rows = db.session.execute(fretes_page.fretes_em_ordem(filtros)).scalars().all()
    linhas = [fretes_page.linha_frete(frete) for frete in rows]
    return Page(linhas, filtros.page, fretes_page.PER_PAGE, total)


def relatorio_faturamento(filtros: FiltrosFaturamento, forcado: str | None) -> RelatorioFaturamento:
    """The faturamento report: the window's totals, the client groups, the page of ORM rows."""
    f = RelatorioFaturamentoImportado
    per_page = faturamento_page.PER_PAGE
    conds = faturamento_page.conditions(filtros, forcado)
    quantidade, soma = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(f.valor_total)).where(*conds)
    ).one()
    soma_col = sa.func.coalesce(sa.func.sum(f.valor_total), 0)
    grupos = db.session.execute(
        sa.select(f.cnpj_cliente, f.nome_cliente, sa.func.count(), soma_col.label("soma"))
        .where(*conds)
        .group_by(f.cnpj_cliente, f.nome_cliente)
        .order_by(sa.desc("soma"), f.nome_cliente)
        .limit(faturamento_page.MAX_CLIENTES)
    ).all()
    clientes = [faturamento_page.total_cliente(*grupo) for grupo in grupos]
    rows = (
        db.session.execute(
            sa.select(f)
            .where(*conds)
            .order_by(f.data_fatura.desc(), f.id.desc())
            .limit(per_page)
            .offset((filtros.page - 1) * per_page)
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
    return faturamento_page.relatorio(filtros, quantidade, soma, clientes, faturas)


def status_pedidos(filtros: FiltrosPedidos) -> StatusPedidos:
    """The pedidos status page: one COUNT per status, the total, then LIMIT/OFFSET paging."""
    p = Pedido
    per_page = pedidos_page.PER_PAGE
    contadores: dict[str, int] = {}
    for value in PEDIDO_STATUSES:
        contadores[value] = db.session.execute(
            sa.select(sa.func.count()).select_from(p).where(p.status == value)
        ).scalar_one()
    conds = pedidos_page.conditions(filtros)
    total = db.session.execute(sa.select(sa.func.count()).select_from(p).where(*conds)).scalar_one()
    rows = (
        db.session.execute(
            sa.select(p)
            .where(*conds)
            .order_by(*pedidos_page.ordem())
            .limit(per_page)
            .offset((filtros.page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    linhas = [
        LinhaPedido(
            r.id,
            r.num_pedido,
            r.cnpj_cpf,
            r.raz_social_red,
            r.nome_cidade,
            r.cod_uf,
            r.rota,
            r.sub_rota,
            r.expedicao,
            r.status,
            r.valor_saldo_total,
            r.peso_total,
        )
        for r in rows
    ]
    return StatusPedidos(
        filtros.desde, filtros.ate, contadores, Page(linhas, filtros.page, per_page, total)
    )
