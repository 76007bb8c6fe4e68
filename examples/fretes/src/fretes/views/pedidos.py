"""GET /pedidos/status — counters by status and the pedidos with expedicao in the last
``dias`` days (default 30) ending at ``ate`` (default today), ordered by rota, sub_rota,
expedicao; POST /pedidos/<id>/status — change a pedido's status.

Naive form: one COUNT per status (the real system once ran ~17 per request), then
LIMIT/OFFSET paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, request, url_for
from flask_login import login_required

from fretes.mode import is_cached, is_optimized
from fretes.models import PEDIDO_STATUSES, Pedido, db
from fretes.params import parse_choice, parse_date, parse_int, parse_page, require_choice
from fretes.views.rendering import Page, request_body, respond, write_done

bp = Blueprint("pedidos", __name__, url_prefix="/pedidos")

PER_PAGE = 20
MAX_DIAS = 3650


@dataclass(frozen=True)
class FiltrosPedidos:
    """Validated filters of the status page."""

    dias: int
    ate: date
    status: str | None
    page: int

    @property
    def desde(self) -> date:
        """First day of the expedicao window (inclusive)."""
        return self.ate - timedelta(days=self.dias - 1)


@dataclass
class LinhaPedido:
    """One pedido of the list."""

    id: int
    num_pedido: str
    cnpj_cpf: str
    raz_social_red: str | None
    nome_cidade: str | None
    cod_uf: str | None
    rota: str | None
    sub_rota: str | None
    expedicao: date | None
    status: str
    valor_saldo_total: Decimal | None
    peso_total: Decimal | None


@dataclass
class StatusPedidos:
    """What /pedidos/status shows."""

    desde: date
    ate: date
    contadores: dict[str, int]
    pedidos: Page[LinhaPedido]


def parse_filtros(args: Any) -> FiltrosPedidos:
    """Read and validate the page's parameters (raises BadParameter)."""
    dias = parse_int(args, "dias", minimum=1, maximum=MAX_DIAS, default=30)
    assert dias is not None
    return FiltrosPedidos(
        dias=dias,
        ate=parse_date(args, "ate") or date.today(),
        status=parse_choice(args, "status", PEDIDO_STATUSES),
        page=parse_page(args),
    )


def status_pedidos(filtros: FiltrosPedidos) -> StatusPedidos:
    """The naive data function of the pedidos status page."""
    p = Pedido
    contadores: dict[str, int] = {}
    for value in PEDIDO_STATUSES:
        contadores[value] = db.session.execute(
            sa.select(sa.func.count()).select_from(p).where(p.status == value)
        ).scalar_one()
    conds: list[sa.ColumnElement[bool]] = [p.expedicao >= filtros.desde, p.expedicao <= filtros.ate]
    if filtros.status:
        conds.append(p.status == filtros.status)
    total = db.session.execute(sa.select(sa.func.count()).select_from(p).where(*conds)).scalar_one()
    rows = (
        db.session.execute(
            sa.select(p)
            .where(*conds)
            .order_by(p.rota.asc().nulls_last(), p.sub_rota.asc().nulls_last(), p.expedicao, p.id)
            .limit(PER_PAGE)
            .offset((filtros.page - 1) * PER_PAGE)
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
        filtros.desde, filtros.ate, contadores, Page(linhas, filtros.page, PER_PAGE, total)
    )


@bp.get("/status")
@login_required
def status() -> Any:
    """Pedidos status page (HTML or ``?format=json``)."""
    filtros = parse_filtros(request.args)
    if is_optimized():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import relatorios as optimized

        data = optimized.status_pedidos(filtros)
    elif is_cached():
        from fretes.views import cached

        data = cached.status_pedidos(filtros)
    else:
        data = status_pedidos(filtros)
    return respond("pedidos/status.html", data, filtros=filtros, statuses=PEDIDO_STATUSES)


@bp.post("/<int:pedido_id>/status")
@login_required
def mudar_status(pedido_id: int) -> Any:
    """Change a pedido's status (``status``: one of ABERTO, COTADO, EMBARCADO, FATURADO)."""
    pedido = db.session.get(Pedido, pedido_id)
    if pedido is None:
        abort(404, description=f"pedido {pedido_id} not found")
    novo = require_choice(request_body(), "status", PEDIDO_STATUSES)
    anterior = pedido.status
    pedido.status = novo
    db.session.commit()
    return write_done(
        {"id": pedido.id, "status": novo, "anterior": anterior}, 200, url_for("pedidos.status")
    )
