"""Writes on one entrega: log, evento, comentario (or reply), agendamento, mark delivered.

Each accepts a form post (redirects back) or a JSON object body (answers JSON with the new
id: 201 for a created row, 200 for ``entregar``). A vendedor may write only to entregas whose
vendedor is theirs (403); an unknown entrega is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, url_for
from flask_login import current_user, login_required

from fretes.models import (
    AGENDAMENTO_STATUSES,
    AgendamentoEntrega,
    ComentarioNF,
    EntregaMonitorada,
    EventoEntrega,
    LogEntrega,
    db,
)
from fretes.params import (
    BadParameter,
    parse_choice,
    parse_date,
    parse_int,
    parse_text,
    require_text,
)
from fretes.views.monitoramento import bp
from fretes.views.rendering import request_body, vendedor_forcado, write_done

LOG_TIPOS = ("info", "alerta", "ocorrencia", "contato", "financeiro")


def entrega_para_escrita(entrega_id: int) -> EntregaMonitorada:
    """The entrega the current user may write to: 404 if unknown, 403 if not theirs."""
    entrega = db.session.get(EntregaMonitorada, entrega_id)
    if entrega is None:
        abort(404, description=f"entrega {entrega_id} not found")
    forcado = vendedor_forcado()
    if forcado is not None and entrega.vendedor != forcado:
        abort(403, description=f"entrega {entrega_id} belongs to another vendedor")
    return entrega


def autor_atual() -> str:
    """The name recorded as the author of a write."""
    return str(getattr(current_user, "nome", None) or current_user.username)


def _back() -> str:
    return url_for("monitoramento.listar")


@bp.post("/<int:entrega_id>/log")
@login_required
def adicionar_log(entrega_id: int) -> Any:
    """Add a log line (descricao required; tipo one of LOG_TIPOS, default info)."""
    entrega = entrega_para_escrita(entrega_id)
    body = request_body()
    log = LogEntrega(
        entrega_id=entrega.id,
        autor=autor_atual(),
        data_hora=datetime.now(),
        descricao=require_text(body, "descricao", max_len=2000),
        tipo=parse_choice(body, "tipo", LOG_TIPOS, default="info"),
    )
    db.session.add(log)
    db.session.commit()
    return write_done({"id": log.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/evento")
@login_required
def adicionar_evento(entrega_id: int) -> Any:
    """Add an evento (tipo_evento required, motorista optional)."""
    entrega = entrega_para_escrita(entrega_id)
    body = request_body()
    evento = EventoEntrega(
        entrega_id=entrega.id,
        tipo_evento=require_text(body, "tipo_evento", max_len=50),
        motorista=parse_text(body, "motorista", max_len=120),
        criado_em=datetime.now(),
    )
    db.session.add(evento)
    db.session.commit()
    return write_done({"id": evento.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/comentario")
@login_required
def adicionar_comentario(entrega_id: int) -> Any:
    """Add a comment (texto required); ``resposta_a_id`` makes it a reply to a comment of
    the same entrega."""
    entrega = entrega_para_escrita(entrega_id)
    body = request_body()
    texto = require_text(body, "texto", max_len=4000)
    resposta_a_id = parse_int(body, "resposta_a_id")
    if resposta_a_id is not None:
        pai = db.session.get(ComentarioNF, resposta_a_id)
        if pai is None or pai.entrega_id != entrega.id:
            raise BadParameter(
                "resposta_a_id",
                resposta_a_id,
                f"the id of an existing comment of entrega {entrega.id}",
            )
    comentario = ComentarioNF(
        entrega_id=entrega.id,
        texto=texto,
        autor=autor_atual(),
        criado_em=datetime.now(),
        resposta_a_id=resposta_a_id,
    )
    db.session.add(comentario)
    db.session.commit()
    return write_done(
        {"id": comentario.id, "entrega_id": entrega.id, "resposta_a_id": resposta_a_id},
        201,
        _back(),
    )


@bp.post("/<int:entrega_id>/agendamento")
@login_required
def adicionar_agendamento(entrega_id: int) -> Any:
    """Schedule a delivery (data_agendada required); also sets the entrega's data_agenda."""
    entrega = entrega_para_escrita(entrega_id)
    body = request_body()
    data_agendada = parse_date(body, "data_agendada", required=True)
    agendamento = AgendamentoEntrega(
        entrega_id=entrega.id,
        data_agendada=data_agendada,
        protocolo=parse_text(body, "protocolo", max_len=50),
        status=parse_choice(body, "status", AGENDAMENTO_STATUSES, default="aguardando"),
        autor=autor_atual(),
        criado_em=datetime.now(),
    )
    entrega.data_agenda = data_agendada
    db.session.add(agendamento)
    db.session.commit()
    return write_done({"id": agendamento.id, "entrega_id": entrega.id}, 201, _back())


@bp.post("/<int:entrega_id>/entregar")
@login_required
def marcar_entregue(entrega_id: int) -> Any:
    """Mark delivered: entregue=true, status_finalizacao='Entregue', reagendar cleared."""
    entrega = entrega_para_escrita(entrega_id)
    entrega.entregue = True
    entrega.status_finalizacao = "Entregue"
    entrega.reagendar = False
    db.session.commit()
    return write_done(
        {"id": entrega.id, "entregue": True, "status_finalizacao": "Entregue"}, 200, _back()
    )
