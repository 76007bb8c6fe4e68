"""The monitoring of entregas (GET /monitoramento/listar and /monitoramento/exportar): filters,
status modes as SQL conditions, the row types and the row builders both data access forms use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fretes.domain.child_rows import has_child, without_child
from fretes.domain.paging import Page
from fretes.export import Sheet
from fretes.models import AgendamentoEntrega, ComentarioNF, EntregaMonitorada
from fretes.params import (
    parse_choice,
    parse_date_near,
    parse_date_range,
    parse_page,
    parse_text,
)

PER_PAGE = 20
# ``hoje`` (the day "atrasada" is measured from) may move this far from the real today: far
# enough to replay a dataset's own reference date, near enough that the cached key space of
# the list stays bounded.
HOJE_WINDOW_DAYS = 3660
# Status modes of the list; each is defined precisely in ``status_condition``.
STATUS_MODES = (
    "todas",
    "pendente",
    "entregue",
    "atrasada",
    "no_prazo",
    "reagendar",
    "sem_agendamento",
    "com_agendamento",
    "com_comentarios",
    "pendencia_financeira",
    "finalizada",
    "cancelada",
    "devolvida",
)
# The badge counters shown on every request (one COUNT each in the naive form).
BADGES = ("pendente", "entregue", "atrasada", "reagendar", "sem_agendamento", "com_comentarios")
FORMATOS = ("xlsx", "csv")


@dataclass(frozen=True)
class FiltrosEntregas:
    """Validated filters shared by the list and the export."""

    vendedor: str | None = None
    cliente: str | None = None
    uf: str | None = None
    transportadora: str | None = None
    municipio: str | None = None
    status: str = "todas"
    data_embarque_de: date | None = None
    data_embarque_ate: date | None = None
    hoje: date = field(default_factory=date.today)
    page: int = 1


def parse_filtros(args: Mapping[str, Any], today: date | None = None) -> FiltrosEntregas:
    """Read and validate the list/export filters (raises BadParameter)."""
    today = today or date.today()
    de, ate = parse_date_range(args, "data_embarque_de", "data_embarque_ate")
    hoje = parse_date_near(args, "hoje", today=today, window_days=HOJE_WINDOW_DAYS)
    return FiltrosEntregas(
        vendedor=parse_text(args, "vendedor", max_len=120),
        cliente=parse_text(args, "cliente", max_len=255),
        uf=parse_text(args, "uf", max_len=2),
        transportadora=parse_text(args, "transportadora", max_len=255),
        municipio=parse_text(args, "municipio", max_len=100),
        status=parse_choice(args, "status", STATUS_MODES, default="todas") or "todas",
        data_embarque_de=de,
        data_embarque_ate=ate,
        hoje=hoje or today,
        page=parse_page(args),
    )


def status_condition(mode: str, hoje: date) -> sa.ColumnElement[bool] | None:
    """The WHERE condition of one status mode; None for 'todas'.

    An entrega is *open* when it has no status_finalizacao and is not marked entregue.
    """
    e = EntregaMonitorada
    aberta = sa.and_(e.status_finalizacao.is_(None), e.entregue.is_(False))
    # Not relationship .any(): see fretes.domain.child_rows for each database's form.
    com_agendamento = has_child(e.id, AgendamentoEntrega.entrega_id)
    com_comentario = has_child(e.id, ComentarioNF.entrega_id)
    conditions: dict[str, sa.ColumnElement[bool]] = {
        "pendente": aberta,
        "entregue": e.entregue.is_(True),
        "atrasada": sa.and_(aberta, e.data_entrega_prevista < hoje),
        "no_prazo": sa.and_(
            aberta, sa.or_(e.data_entrega_prevista.is_(None), e.data_entrega_prevista >= hoje)
        ),
        "reagendar": sa.and_(aberta, e.reagendar.is_(True)),
        "sem_agendamento": sa.and_(aberta, without_child(e.id, AgendamentoEntrega.entrega_id)),
        "com_agendamento": sa.and_(aberta, com_agendamento),
        "com_comentarios": com_comentario,
        "pendencia_financeira": e.pendencia_financeira.is_(True),
        "finalizada": e.status_finalizacao.is_not(None),
        "cancelada": e.status_finalizacao == "Cancelada",
        "devolvida": e.status_finalizacao == "Devolvida",
    }
    return conditions.get(mode)


def base_conditions(filtros: FiltrosEntregas, forcado: str | None) -> list[sa.ColumnElement[bool]]:
    """Every filter except status. A forced vendedor replaces the vendedor parameter."""
    e = EntregaMonitorada
    conds: list[sa.ColumnElement[bool]] = []
    if forcado is not None:
        conds.append(e.vendedor == forcado)
    elif filtros.vendedor:
        conds.append(e.vendedor.ilike(f"%{filtros.vendedor}%"))
    for column, value in (
        (e.cliente, filtros.cliente),
        (e.uf, filtros.uf),
        (e.transportadora, filtros.transportadora),
        (e.municipio, filtros.municipio),
    ):
        if value:
            conds.append(column.ilike(f"%{value}%"))
    if filtros.data_embarque_de is not None:
        conds.append(e.data_embarque >= filtros.data_embarque_de)
    if filtros.data_embarque_ate is not None:
        conds.append(e.data_embarque <= filtros.data_embarque_ate)
    return conds


def all_conditions(filtros: FiltrosEntregas, forcado: str | None) -> list[sa.ColumnElement[bool]]:
    """Base filters plus the status mode."""
    conds = base_conditions(filtros, forcado)
    status = status_condition(filtros.status, filtros.hoje)
    if status is not None:
        conds.append(status)
    return conds


def entregas_em_ordem(filtros: FiltrosEntregas, forcado: str | None) -> sa.Select[Any]:
    """Every matching entrega, newest first (the list pages it, the export takes it all)."""
    e = EntregaMonitorada
    return (
        sa.select(e)
        .where(*all_conditions(filtros, forcado))
        .order_by(e.criado_em.desc(), e.id.desc())
    )


def contagem(filtros: FiltrosEntregas, forcado: str | None) -> sa.Select[int]:
    """COUNT of the matching entregas (the export's row cap is checked with it)."""
    e = EntregaMonitorada
    return sa.select(sa.func.count()).select_from(e).where(*all_conditions(filtros, forcado))


def situacao(entrega: EntregaMonitorada, hoje: date) -> str:
    """A one-word label for the row's badge."""
    if entrega.entregue:
        return "Entregue"
    if entrega.status_finalizacao:
        return entrega.status_finalizacao
    if entrega.data_entrega_prevista is not None and entrega.data_entrega_prevista < hoje:
        return "Atrasada"
    if entrega.reagendar:
        return "Reagendar"
    return "Pendente"


@dataclass
class AgendamentoResumo:
    """The last agendamento of a row."""

    id: int
    data_agendada: date | None
    protocolo: str | None
    status: str


@dataclass
class LinhaEntrega:
    """One row of the monitoring list."""

    id: int
    numero_nf: str
    cliente: str
    municipio: str | None
    uf: str | None
    vendedor: str | None
    transportadora: str | None
    valor_nf: Decimal | None
    data_embarque: date | None
    data_entrega_prevista: date | None
    data_agenda: date | None
    entregue: bool
    status_finalizacao: str | None
    situacao: str
    criado_em: datetime
    ultimo_agendamento: AgendamentoResumo | None
    comentarios: int
    custos_extras: Decimal


@dataclass
class BadgesEntregas:
    """The badge counters of the list (GET /monitoramento/badges, a fragment of the list page):
    badge -> matching entregas under the base filters (the status mode does not apply)."""

    contagens: dict[str, int]


def filtros_dos_badges(filtros: FiltrosEntregas) -> FiltrosEntregas:
    """``filtros`` without what the counters ignore (the status mode, the page), so that every
    page and status of one list shares one cached count."""
    return replace(filtros, status="todas", page=1)


@dataclass
class ListaEntregas:
    """What /monitoramento/listar shows: a page of rows, the total and the badge counters
    (None when not asked for: the page loads them lazily from /monitoramento/badges)."""

    entregas: Page[LinhaEntrega]
    badges: dict[str, int] | None
    status: str


@dataclass(frozen=True)
class ExtrasLinha:
    """The per-row aggregates of one entrega: comment count, extra-cost total, last agendamento."""

    comentarios: int
    custos_extras: Decimal
    ultimo_agendamento: AgendamentoResumo | None


def linha(entrega: EntregaMonitorada, extras: ExtrasLinha, hoje: date) -> LinhaEntrega:
    """Build a row from the entrega's own columns and its aggregates (both forms use this)."""
    return LinhaEntrega(
        id=entrega.id,
        numero_nf=entrega.numero_nf,
        cliente=entrega.cliente,
        municipio=entrega.municipio,
        uf=entrega.uf,
        vendedor=entrega.vendedor,
        transportadora=entrega.transportadora,
        valor_nf=entrega.valor_nf,
        data_embarque=entrega.data_embarque,
        data_entrega_prevista=entrega.data_entrega_prevista,
        data_agenda=entrega.data_agenda,
        entregue=entrega.entregue,
        status_finalizacao=entrega.status_finalizacao,
        situacao=situacao(entrega, hoje),
        criado_em=entrega.criado_em,
        ultimo_agendamento=extras.ultimo_agendamento,
        comentarios=extras.comentarios,
        custos_extras=extras.custos_extras,
    )


# Every dataclass a cached ListaEntregas holds.
RESULT_TYPES = (ListaEntregas, LinhaEntrega, AgendamentoResumo, BadgesEntregas)

# --- export ----------------------------------------------------------------------------

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
    # c.respostas is one lazy load per comment in the naive form (its second-level N+1).
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
    """One exported entrega; each collection not loaded yet is a lazy load (the naive form
    loads nothing ahead, the optimized form has every collection selectin-loaded)."""
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
