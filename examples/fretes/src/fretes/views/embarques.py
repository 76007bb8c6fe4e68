"""GET /embarques/dashboard — embarques of one status (default 'ativo') with carrier, item
and frete totals, plus a counter per status.

Naive form: one COUNT per status, then per embarque a lazy load of its transportadora, its
itens and its fretes (on the unindexed fretes.embarque_id), totals summed in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request
from flask_login import login_required

from fretes.mode import is_cached, is_optimized
from fretes.models import EMBARQUE_STATUSES, Embarque, db
from fretes.params import parse_choice, parse_page
from fretes.views.rendering import Page, respond

bp = Blueprint("embarques", __name__, url_prefix="/embarques")

PER_PAGE = 50


@dataclass
class LinhaEmbarque:
    """One embarque on the dashboard."""

    id: int
    numero: int
    data_embarque: date | None
    status: str
    transportadora: str | None
    valor_total: Decimal | None
    itens: int
    itens_peso: Decimal
    itens_valor: Decimal
    fretes: int
    fretes_valor_cotado: Decimal


@dataclass
class DashboardEmbarques:
    """What /embarques/dashboard shows."""

    status: str
    contadores: dict[str, int]
    embarques: Page[LinhaEmbarque]


def linha_naive(embarque: Embarque) -> LinhaEmbarque:
    """Build a row; transportadora, itens and fretes are each a lazy load."""
    transportadora = embarque.transportadora
    itens = embarque.itens
    fretes = embarque.fretes
    return LinhaEmbarque(
        id=embarque.id,
        numero=embarque.numero,
        data_embarque=embarque.data_embarque,
        status=embarque.status,
        transportadora=transportadora.razao_social if transportadora is not None else None,
        valor_total=embarque.valor_total,
        itens=len(itens),
        itens_peso=sum((i.peso or Decimal("0") for i in itens), Decimal("0")),
        itens_valor=sum((i.valor or Decimal("0") for i in itens), Decimal("0")),
        fretes=len(fretes),
        fretes_valor_cotado=sum((f.valor_cotado or Decimal("0") for f in fretes), Decimal("0")),
    )


def dashboard_embarques(status: str, page: int) -> DashboardEmbarques:
    """The naive data function of the embarques dashboard."""
    contadores: dict[str, int] = {}
    for value in EMBARQUE_STATUSES:
        contadores[value] = db.session.execute(
            sa.select(sa.func.count()).select_from(Embarque).where(Embarque.status == value)
        ).scalar_one()
    contadores["total"] = db.session.execute(
        sa.select(sa.func.count()).select_from(Embarque)
    ).scalar_one()
    rows = (
        db.session.execute(
            sa.select(Embarque)
            .where(Embarque.status == status)
            .order_by(Embarque.data_embarque.desc().nulls_last(), Embarque.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    linhas = [linha_naive(embarque) for embarque in rows]
    return DashboardEmbarques(
        status, contadores, Page(linhas, page, PER_PAGE, contadores.get(status, 0))
    )


@bp.get("/dashboard")
@login_required
def dashboard() -> Any:
    """Embarques dashboard (HTML or ``?format=json``); ``status`` defaults to ativo."""
    status = parse_choice(request.args, "status", EMBARQUE_STATUSES, default="ativo") or "ativo"
    page = parse_page(request.args)
    if is_optimized():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import embarques as optimized

        data = optimized.dashboard_embarques(status, page)
    elif is_cached():
        from fretes.views import cached

        data = cached.dashboard_embarques(status, page)
    else:
        data = dashboard_embarques(status, page)
    return respond("embarques/dashboard.html", data, statuses=EMBARQUE_STATUSES)
