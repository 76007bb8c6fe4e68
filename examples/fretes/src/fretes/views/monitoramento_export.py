"""GET /monitoramento/exportar — every matching entrega with its relations, as XLSX or CSV.

Naive form: one query for the entregas, then per entrega a lazy load of each of its five
collections and, per comment, a lazy load of its replies (the real system's export shape).
XLSX (default) has one sheet per table; CSV (``?formato=csv``) has one line per entrega with
the relations summarised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Response, request, stream_with_context
from flask_login import login_required

from fretes.export import CSV_MIMETYPE, XLSX_MIMETYPE, Sheet, build_xlsx, stream_csv, stream_file
from fretes.mode import is_cached, is_optimized
from fretes.models import ComentarioNF, EntregaMonitorada, db
from fretes.params import parse_choice
from fretes.views.monitoramento import FiltrosEntregas, all_conditions, bp, parse_filtros, situacao
from fretes.views.rendering import vendedor_forcado

FORMATOS = ("xlsx", "csv")

ENTREGA_COLUMNS = (
    "id",
    "numero_nf",
    "cliente",
    "cnpj_cliente",
    "municipio",
    "uf",
    "vendedor",
    "transportadora",
    "valor_nf",
    "data_faturamento",
    "data_embarque",
    "data_entrega_prevista",
    "data_agenda",
    "entregue",
    "status_finalizacao",
    "situacao",
    "reagendar",
    "pendencia_financeira",
    "criado_em",
)
SHEETS = (
    Sheet("Entregas", ENTREGA_COLUMNS),
    Sheet(
        "Agendamentos",
        (
            "entrega_id",
            "numero_nf",
            "id",
            "data_agendada",
            "protocolo",
            "status",
            "autor",
            "criado_em",
        ),
    ),
    Sheet("Logs", ("entrega_id", "numero_nf", "id", "autor", "data_hora", "tipo", "descricao")),
    Sheet("Eventos", ("entrega_id", "numero_nf", "id", "tipo_evento", "motorista", "criado_em")),
    Sheet("Custos", ("entrega_id", "numero_nf", "id", "tipo", "valor", "motivo")),
    Sheet(
        "Comentarios",
        (
            "entrega_id",
            "numero_nf",
            "id",
            "resposta_a_id",
            "autor",
            "criado_em",
            "respostas",
            "texto",
        ),
    ),
)
CSV_COLUMNS = (
    *ENTREGA_COLUMNS,
    "agendamentos",
    "ultimo_agendamento",
    "logs",
    "eventos",
    "custos_extras",
    "comentarios",
    "respostas",
)


@dataclass
class EntregaExport:
    """One exported entrega: its own values and one list of value rows per relation."""

    valores: tuple[Any, ...]
    agendamentos: list[tuple[Any, ...]]
    logs: list[tuple[Any, ...]]
    eventos: list[tuple[Any, ...]]
    custos: list[tuple[Any, ...]]
    comentarios: list[tuple[Any, ...]]
    custos_total: Decimal
    ultimo_agendamento: date | None
    respostas: int


def _comentario(c: ComentarioNF, nf: str) -> tuple[Any, ...]:
    # c.respostas is one lazy load per comment: the export's second-level N+1.
    return (
        c.entrega_id,
        nf,
        c.id,
        c.resposta_a_id,
        c.autor,
        c.criado_em,
        len(c.respostas),
        c.texto,
    )


def export_row(x: EntregaMonitorada, hoje: date) -> EntregaExport:
    """One exported entrega; each collection not loaded yet is a lazy load (naive form)."""
    nf = x.numero_nf
    agendamentos = [
        (x.id, nf, a.id, a.data_agendada, a.protocolo, a.status, a.autor, a.criado_em)
        for a in x.agendamentos
    ]
    comentarios = [_comentario(c, nf) for c in x.comentarios]
    custos = [(x.id, nf, c.id, c.tipo, c.valor, c.motivo) for c in x.custos_extras]
    return EntregaExport(
        valores=(
            x.id,
            nf,
            x.cliente,
            x.cnpj_cliente,
            x.municipio,
            x.uf,
            x.vendedor,
            x.transportadora,
            x.valor_nf,
            x.data_faturamento,
            x.data_embarque,
            x.data_entrega_prevista,
            x.data_agenda,
            x.entregue,
            x.status_finalizacao,
            situacao(x, hoje),
            x.reagendar,
            x.pendencia_financeira,
            x.criado_em,
        ),
        agendamentos=agendamentos,
        logs=[(x.id, nf, lg.id, lg.autor, lg.data_hora, lg.tipo, lg.descricao) for lg in x.logs],
        eventos=[(x.id, nf, ev.id, ev.tipo_evento, ev.motorista, ev.criado_em) for ev in x.eventos],
        custos=custos,
        comentarios=comentarios,
        custos_total=sum((c[4] for c in custos), Decimal("0")),
        ultimo_agendamento=agendamentos[-1][3] if agendamentos else None,
        respostas=sum(c[6] for c in comentarios),
    )


def exportar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> Iterator[EntregaExport]:
    """The naive data function of the export: every matching entrega, newest first."""
    e = EntregaMonitorada
    entregas = db.session.execute(
        sa.select(e)
        .where(*all_conditions(filtros, forcado))
        .order_by(e.criado_em.desc(), e.id.desc())
    ).scalars()
    for x in entregas:
        yield export_row(x, filtros.hoje)


def xlsx_records(rows: Iterator[EntregaExport]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(sheet name, row values) records for ``build_xlsx``."""
    for row in rows:
        yield "Entregas", row.valores
        for name, values in (
            ("Agendamentos", row.agendamentos),
            ("Logs", row.logs),
            ("Eventos", row.eventos),
            ("Custos", row.custos),
            ("Comentarios", row.comentarios),
        ):
            for value in values:
                yield name, value


def csv_rows(rows: Iterator[EntregaExport]) -> Iterator[tuple[Any, ...]]:
    """One summary line per entrega for the CSV export."""
    for row in rows:
        yield (
            *row.valores,
            len(row.agendamentos),
            row.ultimo_agendamento,
            len(row.logs),
            len(row.eventos),
            row.custos_total,
            len(row.comentarios),
            row.respostas,
        )


@bp.get("/exportar")
@login_required
def exportar() -> Response:
    """Download the filtered entregas (``?formato=xlsx`` default, or ``csv``)."""
    filtros = parse_filtros(request.args)
    formato = parse_choice(request.args, "formato", FORMATOS, default="xlsx")
    forcado = vendedor_forcado()
    exportar_fn = exportar_entregas
    # The cached mode streams the optimized export uncached.
    if is_optimized() or is_cached():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import entregas as optimized

        exportar_fn = optimized.exportar_entregas
    stamp = filtros.hoje.strftime("%Y%m%d")
    if formato == "csv":
        body = stream_with_context(stream_csv(CSV_COLUMNS, csv_rows(exportar_fn(filtros, forcado))))
        mimetype = CSV_MIMETYPE
    else:
        # The workbook is finished (all database work done) before the response starts.
        handle = build_xlsx(SHEETS, xlsx_records(exportar_fn(filtros, forcado)))
        body = stream_file(handle)
        mimetype = XLSX_MIMETYPE
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="entregas-{stamp}.{formato}"',
            "Cache-Control": "no-store",
        },
    )
