"""The optimized form of the pages' data access: the naive answers in few, constant queries.

Eager loading instead of lazy loads (``selectinload`` for collections, ``joinedload`` for
many-to-one), counters folded into one aggregate or ``GROUP BY`` query, per-row totals from
one grouped query over the page's ids. The SQL is portable (SQLite and PostgreSQL).

- Monitoring list: three queries — the total and the six badge counters in one aggregate
  (``COUNT(CASE WHEN ... THEN 1 END)`` per counter, portable where ``FILTER`` is not), the
  page, and one query over the page's ids left-joining the grouped comment counts, extra-cost
  sums and the last agendamento.
- Export: the shared row builder over entregas whose five collections (and each comment's
  replies) are ``selectinload``-ed, streamed with ``yield_per``: one query for the entregas
  plus six per batch, no joined-row multiplication, memory bounded by the batch.
- Embarques dashboard: three queries — the status counters in one ``GROUP BY``, the page with
  its transportadora joined, one query for the page's item and frete totals.
- Fretes list: two queries — the total and the page with carrier and embarque joined.
- Faturamento: two queries — the client groups carry the window's count and sum as window
  aggregates (``SUM(COUNT(*)) OVER ()``, over every group before the LIMIT), then the page
  as plain tuples.
- Pedidos: two queries — one ``GROUP BY status`` gives the counters and the filtered total,
  then the page as tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from fretes.domain import embarques as embarques_page
from fretes.domain import faturamento as faturamento_page
from fretes.domain import fretes as fretes_page
from fretes.domain import monitoramento as monitoramento_page
from fretes.domain import pedidos as pedidos_page
from fretes.domain.embarques import DashboardEmbarques, TotaisEmbarque
from fretes.domain.faturamento import FiltrosFaturamento, LinhaFatura, RelatorioFaturamento
from fretes.domain.fretes import FiltrosFretes, LinhaFrete
from fretes.domain.monitoramento import (
    AgendamentoResumo,
    BadgesEntregas,
    EntregaExport,
    ExtrasLinha,
    FiltrosEntregas,
    ListaEntregas,
)
from fretes.domain.paging import Page
from fretes.domain.pedidos import FiltrosPedidos, LinhaPedido, StatusPedidos
from fretes.models import (
    EMBARQUE_STATUSES,
    PEDIDO_STATUSES,
    AgendamentoEntrega,
    ComentarioNF,
    CustoExtraEntrega,
    Embarque,
    EmbarqueItem,
    EntregaMonitorada,
    Frete,
    Pedido,
    RelatorioFaturamentoImportado,
    db,
)

# Entregas per export batch: one round of selectin queries each; bounds the rows in memory.
EXPORT_BATCH = 500
EXPORT_LOADERS = (
    selectinload(EntregaMonitorada.agendamentos),
    selectinload(EntregaMonitorada.logs),
    selectinload(EntregaMonitorada.eventos),
    selectinload(EntregaMonitorada.custos_extras),
    selectinload(EntregaMonitorada.comentarios).selectinload(ComentarioNF.respostas),
)
ZERO = Decimal("0")


def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """``COUNT(CASE WHEN condition THEN 1 END)``: rows matching ``condition``, 0 when none."""
    return sa.func.count(sa.case((condition, 1)))


def _soma(value: Any) -> Decimal:
    # SUM over no rows or only NULLs is NULL; the naive Python sum starts from Decimal("0").
    return value if value is not None else ZERO


# --- monitoring ------------------------------------------------------------------------


def contadores_entregas(
    filtros: FiltrosEntregas, forcado: str | None
) -> tuple[int, dict[str, int]]:
    """The list's total (base filters + status) and the badge counters (base filters only),
    in one query."""
    status = monitoramento_page.status_condition(filtros.status, filtros.hoje)
    total = sa.func.count() if status is None else count_if(status)
    row = db.session.execute(
        sa.select(total.label("total"), *badge_counters(filtros))
        .select_from(EntregaMonitorada)
        .where(*monitoramento_page.base_conditions(filtros, forcado))
    ).one()
    counts = zip(monitoramento_page.BADGES, row[1:], strict=True)
    return int(row[0]), {badge: int(value) for badge, value in counts}


def badge_counters(filtros: FiltrosEntregas) -> list[sa.Label[int]]:
    """One ``COUNT(CASE ...)`` column per badge, labelled with its name."""
    columns = []
    for badge in monitoramento_page.BADGES:
        cond = monitoramento_page.status_condition(badge, filtros.hoje)
        assert cond is not None  # every badge is a real status mode
        columns.append(count_if(cond).label(badge))
    return columns


def contar_badges(filtros: FiltrosEntregas, forcado: str | None) -> BadgesEntregas:
    """The badge counters in one aggregate query (same result as the naive form)."""
    row = db.session.execute(
        sa.select(*badge_counters(filtros))
        .select_from(EntregaMonitorada)
        .where(*monitoramento_page.base_conditions(filtros, forcado))
    ).one()
    counts = zip(monitoramento_page.BADGES, row, strict=True)
    return BadgesEntregas({badge: int(value) for badge, value in counts})


def extras_por_entrega(ids: list[int]) -> dict[int, ExtrasLinha]:
    """Comment count, extra-cost total and last agendamento of each id, in one query.

    Each child table is grouped once, restricted to the page's ids, then left-joined.
    """
    c, k, a = ComentarioNF, CustoExtraEntrega, AgendamentoEntrega
    n_comentarios = (
        sa.select(c.entrega_id.label("entrega_id"), sa.func.count().label("n"))
        .where(c.entrega_id.in_(ids))
        .group_by(c.entrega_id)
        .subquery("n_comentarios")
    )
    custos = (
        sa.select(k.entrega_id.label("entrega_id"), sa.func.sum(k.valor).label("total"))
        .where(k.entrega_id.in_(ids))
        .group_by(k.entrega_id)
        .subquery("custos")
    )
    # The naive row shows agendamentos[-1] of a collection ordered by id: the highest id.
    ultimo = (
        sa.select(a.entrega_id.label("entrega_id"), sa.func.max(a.id).label("id"))
        .where(a.entrega_id.in_(ids))
        .group_by(a.entrega_id)
        .subquery("ultimo")
    )
    e = EntregaMonitorada
    rows = db.session.execute(
        sa.select(
            e.id,
            n_comentarios.c.n,
            custos.c.total,
            a.id,
            a.data_agendada,
            a.protocolo,
            a.status,
        )
        .select_from(e)
        .outerjoin(n_comentarios, n_comentarios.c.entrega_id == e.id)
        .outerjoin(custos, custos.c.entrega_id == e.id)
        .outerjoin(ultimo, ultimo.c.entrega_id == e.id)
        .outerjoin(a, a.id == ultimo.c.id)
        .where(e.id.in_(ids))
    ).all()
    extras: dict[int, ExtrasLinha] = {}
    for entrega_id, n, total, ag_id, ag_data, ag_protocolo, ag_status in rows:
        extras[entrega_id] = ExtrasLinha(
            comentarios=int(n or 0),
            custos_extras=_soma(total),
            ultimo_agendamento=None
            if ag_id is None
            else AgendamentoResumo(ag_id, ag_data, ag_protocolo, ag_status),
        )
    return extras


def listar_entregas(
    filtros: FiltrosEntregas, forcado: str | None, com_badges: bool = True
) -> ListaEntregas:
    """The monitoring list (same result as the naive form). Without ``com_badges`` the total
    is a plain COUNT, not the badge counters' aggregate over the base filters."""
    per_page = monitoramento_page.PER_PAGE
    badges: dict[str, int] | None = None
    if com_badges:
        total, badges = contadores_entregas(filtros, forcado)
    else:
        total = int(db.session.execute(monitoramento_page.contagem(filtros, forcado)).scalar_one())
    rows = (
        db.session.execute(
            monitoramento_page.entregas_em_ordem(filtros, forcado)
            .limit(per_page)
            .offset((filtros.page - 1) * per_page)
        )
        .scalars()
        .all()
    )
    extras = extras_por_entrega([entrega.id for entrega in rows]) if rows else {}
    linhas = [
        monitoramento_page.linha(entrega, extras[entrega.id], filtros.hoje) for entrega in rows
    ]
    return ListaEntregas(Page(linhas, filtros.page, per_page, total), badges, filtros.status)


def contar_exportacao(filtros: FiltrosEntregas, forcado: str | None) -> int:
    """How many entregas the export holds."""
    return int(db.session.execute(monitoramento_page.contagem(filtros, forcado)).scalar_one())


def exportar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> Iterator[EntregaExport]:
    """The export (same rows as the naive form), no lazy loads."""
    entregas = db.session.execute(
        monitoramento_page.entregas_em_ordem(filtros, forcado)
        .options(*EXPORT_LOADERS)
        .execution_options(yield_per=EXPORT_BATCH)
    ).scalars()
    for x in entregas:
        yield monitoramento_page.export_row(x, filtros.hoje)


# --- embarques and fretes --------------------------------------------------------------


def contadores_embarques() -> dict[str, int]:
    """Embarques per status (every known status, 0 when absent) and the total, in one query."""
    counts: dict[str, int] = {
        status: int(n)
        for status, n in db.session.execute(
            sa.select(Embarque.status, sa.func.count()).group_by(Embarque.status)
        ).all()
    }
    contadores = {status: counts.get(status, 0) for status in EMBARQUE_STATUSES}
    contadores["total"] = sum(counts.values())
    return contadores


def totais_por_embarque(ids: list[int]) -> dict[int, TotaisEmbarque]:
    """Item count/weight/value and frete count/quoted value of each id, in one query."""
    i, f = EmbarqueItem, Frete
    itens = (
        sa.select(
            i.embarque_id.label("embarque_id"),
            sa.func.count().label("n"),
            sa.func.sum(i.peso).label("peso"),
            sa.func.sum(i.valor).label("valor"),
        )
        .where(i.embarque_id.in_(ids))
        .group_by(i.embarque_id)
        .subquery("itens")
    )
    fretes = (
        sa.select(
            f.embarque_id.label("embarque_id"),
            sa.func.count().label("n"),
            sa.func.sum(f.valor_cotado).label("valor_cotado"),
        )
        .where(f.embarque_id.in_(ids))
        .group_by(f.embarque_id)
        .subquery("fretes")
    )
    rows = db.session.execute(
        sa.select(
            Embarque.id,
            itens.c.n,
            itens.c.peso,
            itens.c.valor,
            fretes.c.n,
            fretes.c.valor_cotado,
        )
        .select_from(Embarque)
        .outerjoin(itens, itens.c.embarque_id == Embarque.id)
        .outerjoin(fretes, fretes.c.embarque_id == Embarque.id)
        .where(Embarque.id.in_(ids))
    ).all()
    return {
        embarque_id: TotaisEmbarque(
            itens=int(n_itens or 0),
            itens_peso=_soma(peso),
            itens_valor=_soma(valor),
            fretes=int(n_fretes or 0),
            fretes_valor_cotado=_soma(cotado),
        )
        for embarque_id, n_itens, peso, valor, n_fretes, cotado in rows
    }


def dashboard_embarques(status: str, page: int) -> DashboardEmbarques:
    """The embarques dashboard (same result as the naive form)."""
    contadores = contadores_embarques()
    rows = (
        db.session.execute(
            embarques_page.embarques_em_ordem(status, page).options(
                joinedload(Embarque.transportadora)
            )
        )
        .scalars()
        .all()
    )
    totais = totais_por_embarque([embarque.id for embarque in rows]) if rows else {}
    linhas = [embarques_page.linha_embarque(embarque, totais[embarque.id]) for embarque in rows]
    return embarques_page.dashboard(status, page, contadores, linhas)


def consultar_fretes(filtros: FiltrosFretes) -> Page[LinhaFrete]:
    """The fretes list: the naive query with carrier and embarque joined in (the row builder
    reads only those two relationships)."""
    total = db.session.execute(fretes_page.contagem(filtros)).scalar_one()
    rows = (
        db.session.execute(
            fretes_page.fretes_em_ordem(filtros).options(
                joinedload(Frete.transportadora), joinedload(Frete.embarque)
            )
        )
        .scalars()
        .all()
    )
    linhas = [fretes_page.linha_frete(frete) for frete in rows]
    return Page(linhas, filtros.page, fretes_page.PER_PAGE, total)


# --- faturamento and pedidos -----------------------------------------------------------


def relatorio_faturamento(filtros: FiltrosFaturamento, forcado: str | None) -> RelatorioFaturamento:
    """The faturamento report (same result as the naive form)."""
    f = RelatorioFaturamentoImportado
    per_page = faturamento_page.PER_PAGE
    conds = faturamento_page.conditions(filtros, forcado)
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
        .limit(faturamento_page.MAX_CLIENTES)
    ).all()
    # No group means no matching row at all: the totals are then 0.
    quantidade = int(grupos[0].quantidade_total) if grupos else 0
    soma = grupos[0].soma_total if grupos else None
    clientes = [
        faturamento_page.total_cliente(cnpj, nome, qtd, valor)
        for cnpj, nome, qtd, valor, _, _ in grupos
    ]
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
        .limit(per_page)
        .offset((filtros.page - 1) * per_page)
    ).all()
    faturas = [LinhaFatura(**row._asdict()) for row in rows]
    return faturamento_page.relatorio(filtros, quantidade, soma, clientes, faturas)


def contadores_pedidos() -> dict[str, int]:
    """Pedidos per status over every pedido (every known status, 0 when absent), one query:
    the counters alone, for the cached form's counters entry."""
    grupos = db.session.execute(
        sa.select(Pedido.status, sa.func.count()).group_by(Pedido.status)
    ).all()
    por_status = {status: int(n) for status, n in grupos}
    return {status: por_status.get(status, 0) for status in PEDIDO_STATUSES}


def status_pedidos(filtros: FiltrosPedidos) -> StatusPedidos:
    """The pedidos status page (same result as the naive form)."""
    p = Pedido
    per_page = pedidos_page.PER_PAGE
    conds = pedidos_page.conditions(filtros)
    grupos = db.session.execute(
        sa.select(p.status, sa.func.count(), count_if(sa.and_(*conds))).group_by(p.status)
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
        .order_by(*pedidos_page.ordem())
        .limit(per_page)
        .offset((filtros.page - 1) * per_page)
    ).all()
    linhas = [LinhaPedido(**row._asdict()) for row in rows]
    return StatusPedidos(
        filtros.desde, filtros.ate, contadores, Page(linhas, filtros.page, per_page, total)
    )
