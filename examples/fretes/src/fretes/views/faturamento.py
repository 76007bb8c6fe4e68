"""GET /faturamento/relatorio — invoiced totals per client over the last N days plus a page
of the invoices; GET /faturamento/grafico — the per-client chart of the same report (a
Chart.js config the page draws when the chart comes into view); POST /faturamento/importar —
import a batch of rows (back office).

The import body is a JSON list of objects (or a form field ``linhas`` holding that JSON
text), at most ``MAX_BATCH`` rows, upserted by numero_nf in one transaction: any bad row
rejects the whole batch. Importing is a back-office task (admin or operacoes): a vendedor
never creates invoice rows, so none can sit waiting to capture a later import of its NF.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask_login import login_required

from fretes.access import writes
from fretes.access.registry import access_for_request
from fretes.auth import require_back_office, vendedor_forcado
from fretes.domain import faturamento as page
from fretes.views.rendering import respond, write_done

bp = Blueprint("faturamento", __name__, url_prefix="/faturamento")


@bp.get("/relatorio")
@login_required
def relatorio() -> Any:
    """Faturamento report (HTML or ``?format=json``)."""
    filtros = page.parse_filtros(request.args)
    forcado = vendedor_forcado()
    data = access_for_request().relatorio_faturamento(filtros, forcado)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("page", "format")}
    return respond(
        "faturamento/relatorio.html",
        data,
        filtros=filtros,
        is_admin=forcado is None,
        grafico_src=url_for("faturamento.grafico", **args),
        grafico=page.grafico_clientes,
        com_grafico=True,
        com_partes_lazy=True,
    )


@bp.get("/grafico")
@login_required
def grafico() -> Any:
    """The report's per-client chart as a Chart.js config (JSON), for the same filters as the
    report: what the report page draws with turbina-lazy.js when the chart comes into view. A
    vendedor sees only their own clients, as on the report."""
    filtros = page.filtros_do_grafico(page.parse_filtros(request.args))
    data = access_for_request().relatorio_faturamento(filtros, vendedor_forcado())
    return jsonify(page.grafico_clientes(data))


@bp.post("/importar")
@login_required
def importar() -> Any:
    """Import a batch; answers 201 when rows were inserted, else 200."""
    require_back_office()
    if request.is_json:
        linhas = page.linhas_do_corpo(request.get_json(silent=True))
    else:
        linhas = page.linhas_do_formulario(request.form.get("linhas", ""))
    result = writes.importar_faturamento(page.parse_lote(linhas))
    return write_done(result, 201 if result["inserted"] else 200, url_for("faturamento.relatorio"))
