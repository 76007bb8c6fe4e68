"""GET /pedidos/status — counters by status and the pedidos of an expedicao window;
POST /pedidos/<id>/status — change a pedido's status (back office)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask_login import login_required

from fretes.access import writes
from fretes.access.registry import access_for_request
from fretes.auth import require_back_office, vendedor_forcado
from fretes.domain import pedidos as page
from fretes.models import PEDIDO_STATUSES
from fretes.params import parse_path_id, require_choice
from fretes.views.rendering import request_body, respond, write_done

bp = Blueprint("pedidos", __name__, url_prefix="/pedidos")


@bp.get("/status")
@login_required
def status() -> Any:
    """Pedidos status page (HTML or ``?format=json``)."""
    filtros = page.parse_filtros(request.args)
    forcado = vendedor_forcado()
    data = access_for_request().status_pedidos(filtros)
    return respond(
        "pedidos/status.html",
        data,
        filtros=filtros,
        statuses=PEDIDO_STATUSES,
        may_write=forcado is None,
    )


@bp.post("/<int:pedido_id>/status")
@login_required
def mudar_status(pedido_id: int) -> Any:
    """Change a pedido's status (admin or operacoes; one of ABERTO, COTADO, EMBARCADO,
    FATURADO)."""
    require_back_office()
    parse_path_id("pedido_id", pedido_id)
    novo = require_choice(request_body(), "status", PEDIDO_STATUSES)
    pedido, anterior = writes.mudar_status_pedido(pedido_id, novo)
    return write_done(
        {"id": pedido.id, "status": novo, "anterior": anterior}, 200, url_for("pedidos.status")
    )
