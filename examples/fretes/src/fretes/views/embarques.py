"""GET /embarques/dashboard — embarques of one status (default 'ativo') with carrier, item
and frete totals, plus a counter per status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import login_required

from fretes.access.registry import access_for_request
from fretes.auth import vendedor_forcado
from fretes.domain import embarques as page
from fretes.models import EMBARQUE_STATUSES
from fretes.views.rendering import respond

bp = Blueprint("embarques", __name__, url_prefix="/embarques")


@bp.get("/dashboard")
@login_required
def dashboard() -> Any:
    """Embarques dashboard (HTML or ``?format=json``)."""
    status, numero = page.parse_filtros(request.args)
    vendedor_forcado()  # every role sees the dashboard; a vendedor without a name sees nothing
    data = access_for_request().dashboard_embarques(status, numero)
    return respond("embarques/dashboard.html", data, statuses=EMBARQUE_STATUSES)
