"""GET /fretes/consulta — the fretes list; POST /fretes — create a frete (back office)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from flask_login import login_required

from fretes.access import writes
from fretes.access.registry import access_for_request
from fretes.auth import require_back_office, vendedor_forcado
from fretes.domain import fretes as page
from fretes.models import FRETE_STATUSES, Transportadora, db
from fretes.views.rendering import request_body, respond, wants_json_answer, write_done

bp = Blueprint("fretes", __name__, url_prefix="/fretes")


@bp.get("/consulta")
@login_required
def consulta() -> Any:
    """Fretes list (HTML or ``?format=json``)."""
    filtros = page.parse_filtros(request.args)
    vendedor_forcado()  # every role sees the list; a vendedor without a name sees nothing
    data = access_for_request().consultar_fretes(filtros)
    # The carrier choices of the HTML filter form (the JSON answer does not need them).
    transportadoras = (
        []
        if wants_json_answer()
        else db.session.execute(
            sa.select(Transportadora.id, Transportadora.razao_social).order_by(
                Transportadora.razao_social
            )
        ).all()
    )
    return respond(
        "fretes/consulta.html",
        data,
        filtros=filtros,
        statuses=FRETE_STATUSES,
        transportadoras=transportadoras,
    )


@bp.post("")
@login_required
def criar_frete() -> Any:
    """Create a frete (admin or operacoes); fields in ``fretes.domain.fretes.parse_novo_frete``."""
    require_back_office()
    frete = writes.criar_frete(page.parse_novo_frete(request_body()))
    return write_done({"id": frete.id}, 201, url_for("fretes.consulta"))
