"""The writes of `fretes`, the same in every mode: each takes validated values, commits, and
returns what the answer shows. Who may write what is decided here and in ``fretes.auth``:
a vendedor writes only to their own entregas, and one that is not theirs is "not found"
exactly like an unknown id (so ids of other vendedores' rows cannot be probed).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from fretes.domain.errors import NotFoundError
from fretes.domain.fretes import NovoFrete
from fretes.models import (
    AgendamentoEntrega,
    ComentarioNF,
    Embarque,
    EntregaMonitorada,
    EventoEntrega,
    Frete,
    LogEntrega,
    Pedido,
    RelatorioFaturamentoImportado,
    Transportadora,
    db,
)
from fretes.params import BadParameter


def entrega_para_escrita(entrega_id: int, forcado: str | None) -> EntregaMonitorada:
    """The entrega the current user may write to (``forcado``: their vendedor, None for a
    role that sees every row); ``NotFoundError`` when unknown or not theirs."""
    entrega = db.session.get(EntregaMonitorada, entrega_id)
    if entrega is None or (forcado is not None and entrega.vendedor != forcado):
        raise NotFoundError("entrega")
    return entrega


def adicionar_log(entrega: EntregaMonitorada, autor: str, descricao: str, tipo: str) -> LogEntrega:
    """A log line on ``entrega``."""
    log = LogEntrega(
        entrega_id=entrega.id, autor=autor, data_hora=datetime.now(), descricao=descricao, tipo=tipo
    )
    db.session.add(log)
    db.session.commit()
    return log


def adicionar_evento(
    entrega: EntregaMonitorada, tipo_evento: str, motorista: str | None
) -> EventoEntrega:
    """An evento on ``entrega``."""
    evento = EventoEntrega(
        entrega_id=entrega.id,
        tipo_evento=tipo_evento,
        motorista=motorista,
        criado_em=datetime.now(),
    )
    db.session.add(evento)
    db.session.commit()
    return evento


def adicionar_comentario(
    entrega: EntregaMonitorada, autor: str, texto: str, resposta_a_id: int | None
) -> ComentarioNF:
    """A comment on ``entrega``; ``resposta_a_id`` makes it a reply to one of its comments."""
    if resposta_a_id is not None:
        pai = db.session.get(ComentarioNF, resposta_a_id)
        if pai is None or pai.entrega_id != entrega.id:
            raise BadParameter(
                "resposta_a_id", resposta_a_id, "the id of an existing comment of this entrega"
            )
    comentario = ComentarioNF(
        entrega_id=entrega.id,
        texto=texto,
        autor=autor,
        criado_em=datetime.now(),
        resposta_a_id=resposta_a_id,
    )
    db.session.add(comentario)
    db.session.commit()
    return comentario


def adicionar_agendamento(
    entrega: EntregaMonitorada,
    autor: str,
    data_agendada: date,
    protocolo: str | None,
    status: str,
) -> AgendamentoEntrega:
    """Schedule a delivery; also sets the entrega's data_agenda."""
    agendamento = AgendamentoEntrega(
        entrega_id=entrega.id,
        data_agendada=data_agendada,
        protocolo=protocolo,
        status=status,
        autor=autor,
        criado_em=datetime.now(),
    )
    entrega.data_agenda = data_agendada
    db.session.add(agendamento)
    db.session.commit()
    return agendamento


def marcar_entregue(entrega: EntregaMonitorada) -> None:
    """entregue=true, status_finalizacao='Entregue', reagendar cleared."""
    entrega.entregue = True
    entrega.status_finalizacao = "Entregue"
    entrega.reagendar = False
    db.session.commit()


def criar_frete(novo: NovoFrete) -> Frete:
    """A new frete; its transportadora and embarque must exist (a 400 naming the id)."""
    if db.session.get(Transportadora, novo.transportadora_id) is None:
        raise BadParameter(
            "transportadora_id", novo.transportadora_id, "the id of an existing transportadora"
        )
    if novo.embarque_id is not None and db.session.get(Embarque, novo.embarque_id) is None:
        raise BadParameter("embarque_id", novo.embarque_id, "the id of an existing embarque")
    frete = Frete(
        transportadora_id=novo.transportadora_id,
        embarque_id=novo.embarque_id,
        cnpj_cliente=novo.cnpj_cliente,
        nome_cliente=novo.nome_cliente,
        numeros_nfs=novo.numeros_nfs,
        valor_cotado=novo.valor_cotado,
        valor_cte=novo.valor_cte,
        numero_cte=novo.numero_cte,
        status=novo.status,
        criado_em=datetime.now(),
    )
    db.session.add(frete)
    db.session.commit()
    return frete


def mudar_status_pedido(pedido_id: int, novo: str) -> tuple[Pedido, str]:
    """Set a pedido's status; the pedido and its previous status."""
    pedido = db.session.get(Pedido, pedido_id)
    if pedido is None:
        raise NotFoundError("pedido")
    anterior = pedido.status
    pedido.status = novo
    db.session.commit()
    return pedido, anterior


def importar_faturamento(linhas: list[dict[str, Any]]) -> dict[str, Any]:
    """Upsert validated rows (``fretes.domain.faturamento.parse_lote``) by numero_nf in one
    transaction; counts and the ids in input order."""
    f = RelatorioFaturamentoImportado
    numeros = [row["numero_nf"] for row in linhas]
    existing = {
        r.numero_nf: r
        for r in db.session.execute(sa.select(f).where(f.numero_nf.in_(numeros))).scalars()
    }
    inserted = updated = 0
    objects = []
    for row in linhas:
        current = existing.get(row["numero_nf"])
        if current is None:
            current = f(criado_em=datetime.now(), **row)
            db.session.add(current)
            inserted += 1
        else:
            for key, value in row.items():
                setattr(current, key, value)
            updated += 1
        objects.append(current)
    db.session.commit()
    return {"inserted": inserted, "updated": updated, "ids": [o.id for o in objects]}
