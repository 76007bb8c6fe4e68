"""Optimized embarques dashboard (GET /embarques/dashboard) and fretes list (GET /fretes/consulta).

Dashboard: three queries whatever the page size — the status counters in one ``GROUP BY``,
the page of embarques with their transportadora ``joinedload``-ed, and one query over the
page's ids that left-joins the grouped item and frete totals.

Fretes list: two queries — the total and the page, with the transportadora and the embarque
(both many-to-one) ``joinedload``-ed into the page query.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from fretes.models import EMBARQUE_STATUSES, Embarque, EmbarqueItem, Frete, db
from fretes.views.embarques import PER_PAGE as EMBARQUES_PER_PAGE
from fretes.views.embarques import DashboardEmbarques, LinhaEmbarque
from fretes.views.fretes_consulta import FiltrosFretes, LinhaFrete
from fretes.views.fretes_consulta import consultar_fretes as naive_consultar_fretes
from fretes.views.rendering import Page

ZERO = Decimal("0")


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


@dataclass
class TotaisEmbarque:
    """Item and frete aggregates of one embarque."""

    itens: int = 0
    itens_peso: Decimal = ZERO
    itens_valor: Decimal = ZERO
    fretes: int = 0
    fretes_valor_cotado: Decimal = ZERO


def _soma(value: Any) -> Decimal:
    # SUM over no rows or only NULLs is NULL; the naive Python sum starts from Decimal("0").
    return value if value is not None else ZERO


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


def linha_embarque(embarque: Embarque, totais: TotaisEmbarque) -> LinhaEmbarque:
    """Build a row from the embarque, its loaded transportadora and its totals."""
    transportadora = embarque.transportadora
    return LinhaEmbarque(
        id=embarque.id,
        numero=embarque.numero,
        data_embarque=embarque.data_embarque,
        status=embarque.status,
        transportadora=transportadora.razao_social if transportadora is not None else None,
        valor_total=embarque.valor_total,
        itens=totais.itens,
        itens_peso=totais.itens_peso,
        itens_valor=totais.itens_valor,
        fretes=totais.fretes,
        fretes_valor_cotado=totais.fretes_valor_cotado,
    )


def dashboard_embarques(status: str, page: int) -> DashboardEmbarques:
    """The optimized data function of the embarques dashboard (same result as the naive one)."""
    contadores = contadores_embarques()
    rows = (
        db.session.execute(
            sa.select(Embarque)
            .options(joinedload(Embarque.transportadora))
            .where(Embarque.status == status)
            .order_by(Embarque.data_embarque.desc().nulls_last(), Embarque.id.desc())
            .limit(EMBARQUES_PER_PAGE)
            .offset((page - 1) * EMBARQUES_PER_PAGE)
        )
        .scalars()
        .all()
    )
    totais = totais_por_embarque([embarque.id for embarque in rows]) if rows else {}
    linhas = [linha_embarque(embarque, totais[embarque.id]) for embarque in rows]
    return DashboardEmbarques(
        status,
        contadores,
        Page(linhas, page, EMBARQUES_PER_PAGE, contadores.get(status, 0)),
    )


def consultar_fretes(filtros: FiltrosFretes) -> Page[LinhaFrete]:
    """The optimized data function of the fretes list: the naive query with carrier and
    embarque joined in (the row builder only reads those two relationships)."""
    return naive_consultar_fretes(
        filtros, (joinedload(Frete.transportadora), joinedload(Frete.embarque))
    )
