"""Optimized monitoring list (GET /monitoramento/listar) and export (GET /monitoramento/exportar).

List: three queries whatever the page size — the total and the six badge counters in one
aggregate (``COUNT(CASE WHEN ... THEN 1 END)`` per counter, portable where ``FILTER`` is
not), the page of entregas, and one query over the page's ids that left-joins the grouped
comment counts, extra-cost sums and the last agendamento.

Export: the naive row builder over entregas whose five collections (and each comment's
replies) are ``selectinload``-ed, streamed in batches with ``yield_per``: one query for the
entregas plus six per batch, no joined-row multiplication, memory bounded by the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fretes.models import (
    AgendamentoEntrega,
    ComentarioNF,
    CustoExtraEntrega,
    EntregaMonitorada,
    db,
)
from fretes.views.monitoramento import (
    BADGES,
    PER_PAGE,
    AgendamentoResumo,
    ExtrasLinha,
    FiltrosEntregas,
    ListaEntregas,
    all_conditions,
    base_conditions,
    linha,
    status_condition,
)
from fretes.views.monitoramento_export import EntregaExport, export_row
from fretes.views.rendering import Page

# Entregas per export batch: one round of selectin queries each; bounds the rows in memory.
EXPORT_BATCH = 500
EXPORT_LOADERS = (
    selectinload(EntregaMonitorada.agendamentos),
    selectinload(EntregaMonitorada.logs),
    selectinload(EntregaMonitorada.eventos),
    selectinload(EntregaMonitorada.custos_extras),
    selectinload(EntregaMonitorada.comentarios).selectinload(ComentarioNF.respostas),
)


def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """``COUNT(CASE WHEN condition THEN 1 END)``: rows matching ``condition``, 0 when none."""
    return sa.func.count(sa.case((condition, 1)))


def contadores(filtros: FiltrosEntregas, forcado: str | None) -> tuple[int, dict[str, int]]:
    """The list's total (base filters + status) and the badge counters (base filters only),
    in one query."""
    e = EntregaMonitorada
    status = status_condition(filtros.status, filtros.hoje)
    total = sa.func.count() if status is None else count_if(status)
    badges = []
    for badge in BADGES:
        cond = status_condition(badge, filtros.hoje)
        assert cond is not None  # every badge is a real status mode
        badges.append(count_if(cond).label(badge))
    row = db.session.execute(
        sa.select(total.label("total"), *badges)
        .select_from(e)
        .where(*base_conditions(filtros, forcado))
    ).one()
    return int(row[0]), {badge: int(value) for badge, value in zip(BADGES, row[1:], strict=True)}


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
            # Same value as the naive Python sum, which starts from Decimal("0").
            custos_extras=total if total is not None else Decimal("0"),
            ultimo_agendamento=None
            if ag_id is None
            else AgendamentoResumo(ag_id, ag_data, ag_protocolo, ag_status),
        )
    return extras


def listar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> ListaEntregas:
    """The optimized data function of the monitoring list (same result as the naive one)."""
    e = EntregaMonitorada
    total, badges = contadores(filtros, forcado)
    rows = (
        db.session.execute(
            sa.select(e)
            .where(*all_conditions(filtros, forcado))
            .order_by(e.criado_em.desc(), e.id.desc())
            .limit(PER_PAGE)
            .offset((filtros.page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    extras = extras_por_entrega([entrega.id for entrega in rows]) if rows else {}
    linhas = [linha(entrega, extras[entrega.id], filtros.hoje) for entrega in rows]
    return ListaEntregas(Page(linhas, filtros.page, PER_PAGE, total), badges, filtros.status)


def exportar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> Iterator[EntregaExport]:
    """The optimized data function of the export: same rows as the naive one, no lazy loads."""
    e = EntregaMonitorada
    entregas = db.session.execute(
        sa.select(e)
        .where(*all_conditions(filtros, forcado))
        .order_by(e.criado_em.desc(), e.id.desc())
        .options(*EXPORT_LOADERS)
        .execution_options(yield_per=EXPORT_BATCH)
    ).scalars()
    for x in entregas:
        yield export_row(x, filtros.hoje)
