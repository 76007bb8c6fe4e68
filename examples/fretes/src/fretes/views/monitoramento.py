"""/monitoramento: the list of entregas, its badge counters (a fragment the list loads when
seen), its export (XLSX or CSV), and the writes on one entrega (log, evento, comentario or
reply, agendamento, mark delivered).

A write accepts a form post (redirects back) or a JSON object body (answers JSON with the
new id: 201 for a created row, 200 for ``entregar``). A vendedor writes only to their own
entregas; another's is a 404, like an unknown id.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from flask_login import login_required

from fretes.access import writes
from fretes.access.registry import access_for_request
from fretes.auth import autor_atual, vendedor_forcado
from fretes.domain import monitoramento as page
from fretes.export import CSV_MIMETYPE, XLSX_MIMETYPE, build_csv, build_xlsx, stream_file
from fretes.models import AGENDAMENTO_STATUSES, EntregaMonitorada
from fretes.params import (
    BadParameter,
    parse_choice,
    parse_date,
    parse_int,
    parse_path_id,
    parse_text,
    require_text,
)
from fretes.settings import current_settings
from fretes.views.rendering import request_body, respond, wants_json_answer, write_done

bp = Blueprint("monitoramento", __name__, url_prefix="/monitoramento")

LOG_TIPOS = ("info", "alerta", "ocorrencia", "contato", "financeiro")


@bp.get("/listar")
@login_required
def listar() -> Any:
    """Monitoring list page (HTML or ``?format=json``). The HTML page of the lazy assets mode
    shows a placeholder the badges fragment fills (GET /monitoramento/badges): the counters
    are not computed for it (the JSON answer and the eager modes carry them)."""
    filtros = page.parse_filtros(request.args)
    forcado = vendedor_forcado()
    com_badges = wants_json_answer() or not current_settings().lazy_parts
    data = access_for_request().listar_entregas(filtros, forcado, com_badges=com_badges)
    return respond(
        "monitoramento/listar.html",
        data,
        filtros=filtros,
        export_url=export_url,
        badge_url=badge_url,
        badges_src=url_for("monitoramento.badges", **_filter_args()),
        com_partes_lazy=True,
        status_modes=page.STATUS_MODES,
        is_admin=forcado is None,
    )


@bp.get("/badges")
@login_required
def badges() -> Any:
    """The list's badge counters as an HTML fragment (or ``?format=json``), for the same
    filters as the list: what the list page loads with turbina-lazy.js when it comes into
    view. A vendedor counts only their own entregas, as on the list."""
    filtros = page.parse_filtros(request.args)
    data = access_for_request().contar_badges(page.filtros_dos_badges(filtros), vendedor_forcado())
    return respond("monitoramento/_badges.html", data, ativo=filtros.status, badge_url=badge_url)


def _filter_args(*dropped: str) -> dict[str, Any]:
    """The current filters (page, format and ``dropped`` left out)."""
    skip = {"page", "format", "formato", *dropped}
    return {k: v for k, v in request.args.items() if k not in skip}


def export_url(formato: str) -> str:
    """The export link for the current filters (page and format dropped)."""
    return url_for("monitoramento.exportar", formato=formato, **_filter_args())


def badge_url(status: str) -> str:
    """The list for the current filters in status mode ``status`` (back on page 1); the
    badges fragment links to the list, not to itself."""
    return url_for("monitoramento.listar", **_filter_args("status"), status=status)


@bp.get("/exportar")
@login_required
def exportar() -> Response:
    """Download the filtered entregas (``?formato=xlsx`` default, or ``csv``), at most
    ``FRETES_EXPORT_MAX_ROWS`` of them. The cached mode exports with the optimized form."""
    filtros = page.parse_filtros(request.args)
    formato = parse_choice(request.args, "formato", page.FORMATOS, default="xlsx")
    forcado = vendedor_forcado()
    access = access_for_request()
    settings = current_settings()
    total = access.contar_exportacao(filtros, forcado)
    if total > settings.export_max_rows:
        raise BadParameter(
            "filtros",
            f"{total} entregas",
            f"filters matching at most {settings.export_max_rows} entregas "
            "(narrow data_embarque_de/data_embarque_ate, status, cliente or vendedor)",
        )
    rows = access.exportar_entregas(filtros, forcado)
    # The whole file is written (all database work done) before the answer starts.
    if formato == "csv":
        handle, mimetype = build_csv(page.CSV_COLUMNS, page.csv_rows(rows)), CSV_MIMETYPE
    else:
        handle, mimetype = build_xlsx(page.SHEETS, page.xlsx_records(rows)), XLSX_MIMETYPE
    stamp = filtros.hoje.strftime("%Y%m%d")
    return Response(
        stream_file(handle),
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="entregas-{stamp}.{formato}"',
            "Cache-Control": "private, no-store",
        },
    )


def _entrega(entrega_id: int) -> EntregaMonitorada:
    return writes.entrega_para_escrita(parse_path_id("entrega_id", entrega_id), vendedor_forcado())


def _back() -> str:
    return url_for("monitoramento.listar")


@bp.post("/<int:entrega_id>/log")
@login_required
def adicionar_log(entrega_id: int) -> Any:
    """Add a log line (descricao required; tipo one of LOG_TIPOS, default info)."""
    entrega = _entrega(entrega_id)
    body = request_body()
    log = writes.adicionar_log(
        entrega,
        autor_atual(),
        require_text(body, "descricao", max_len=2000, multiline=True),
        parse_choice(body, "tipo", LOG_TIPOS, default="info") or "info",
    )
    return write_done({"id": log.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/evento")
@login_required
def adicionar_evento(entrega_id: int) -> Any:
    """Add an evento (tipo_evento required, motorista optional)."""
    entrega = _entrega(entrega_id)
    body = request_body()
    evento = writes.adicionar_evento(
        entrega,
        require_text(body, "tipo_evento", max_len=50),
        parse_text(body, "motorista", max_len=120),
    )
    return write_done({"id": evento.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/comentario")
@login_required
def adicionar_comentario(entrega_id: int) -> Any:
    """Add a comment (texto required); ``resposta_a_id`` makes it a reply to a comment of
    the same entrega."""
    entrega = _entrega(entrega_id)
    body = request_body()
    comentario = writes.adicionar_comentario(
        entrega,
        autor_atual(),
        require_text(body, "texto", max_len=4000, multiline=True),
        parse_int(body, "resposta_a_id"),
    )
    return write_done(
        {"id": comentario.id, "entrega_id": entrega.id, "resposta_a_id": comentario.resposta_a_id},
        201,
        _back(),
    )


@bp.post("/<int:entrega_id>/agendamento")
@login_required
def adicionar_agendamento(entrega_id: int) -> Any:
    """Schedule a delivery (data_agendada required); also sets the entrega's data_agenda."""
    entrega = _entrega(entrega_id)
    body = request_body()
    data_agendada = parse_date(body, "data_agendada", required=True)
    assert data_agendada is not None  # required=True
    agendamento = writes.adicionar_agendamento(
        entrega,
        autor_atual(),
        data_agendada,
        parse_text(body, "protocolo", max_len=50),
        parse_choice(body, "status", AGENDAMENTO_STATUSES, default="aguardando") or "aguardando",
    )
    return write_done({"id": agendamento.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/entregar")
@login_required
def marcar_entregue(entrega_id: int) -> Any:
    """Mark delivered: entregue=true, status_finalizacao='Entregue', reagendar cleared."""
    entrega = _entrega(entrega_id)
    writes.marcar_entregue(entrega)
    return write_done(
        {"id": entrega.id, "entregue": True, "status_finalizacao": "Entregue"}, 200, _back()
    )
