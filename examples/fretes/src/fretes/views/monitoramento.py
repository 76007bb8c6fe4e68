"""GET /monitoramento/listar — the monitoring list of entregas (naive form).

Naive like the real system: a COUNT for the total, one COUNT per badge, and per row three
lazy loads (agendamentos, comentarios, custos_extras) — a real N+1 the optimized form and the
N+1 detector are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from fretes.mode import is_cached, is_optimized
from fretes.models import AgendamentoEntrega, ComentarioNF, EntregaMonitorada, db
from fretes.params import parse_choice, parse_date, parse_date_range, parse_page, parse_text
from fretes.views.rendering import Page, respond, vendedor_forcado

bp = Blueprint("monitoramento", __name__, url_prefix="/monitoramento")

PER_PAGE = 20
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
# The badge counters shown on every request (one COUNT each, as in the real system).
BADGES = ("pendente", "entregue", "atrasada", "reagendar", "sem_agendamento", "com_comentarios")


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


def parse_filtros(args: MultiDict[str, str]) -> FiltrosEntregas:
    """Read and validate the list/export filters (raises BadParameter)."""
    de, ate = parse_date_range(args, "data_embarque_de", "data_embarque_ate")
    return FiltrosEntregas(
        vendedor=parse_text(args, "vendedor", max_len=120),
        cliente=parse_text(args, "cliente", max_len=255),
        uf=parse_text(args, "uf", max_len=2),
        transportadora=parse_text(args, "transportadora", max_len=255),
        municipio=parse_text(args, "municipio", max_len=100),
        status=parse_choice(args, "status", STATUS_MODES, default="todas") or "todas",
        data_embarque_de=de,
        data_embarque_ate=ate,
        hoje=parse_date(args, "hoje") or date.today(),
        page=parse_page(args),
    )


def status_condition(mode: str, hoje: date) -> sa.ColumnElement[bool] | None:
    """The WHERE condition of one status mode; None for 'todas'.

    An entrega is *open* when it has no status_finalizacao and is not marked entregue.
    """
    e = EntregaMonitorada
    aberta = sa.and_(e.status_finalizacao.is_(None), e.entregue.is_(False))
    # IN (SELECT ...) rather than relationship .any(): SQLite plans the correlated EXISTS as
    # one scan of the unindexed child table per entrega (~100 s at `real` scale).
    com_agendamento = e.id.in_(sa.select(AgendamentoEntrega.entrega_id))
    com_comentario = e.id.in_(sa.select(ComentarioNF.entrega_id))
    conditions: dict[str, sa.ColumnElement[bool]] = {
        "pendente": aberta,
        "entregue": e.entregue.is_(True),
        "atrasada": sa.and_(aberta, e.data_entrega_prevista < hoje),
        "no_prazo": sa.and_(
            aberta, sa.or_(e.data_entrega_prevista.is_(None), e.data_entrega_prevista >= hoje)
        ),
        "reagendar": sa.and_(aberta, e.reagendar.is_(True)),
        "sem_agendamento": sa.and_(aberta, ~com_agendamento),
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
class ListaEntregas:
    """What /monitoramento/listar shows: a page of rows, the total and the badge counters."""

    entregas: Page[LinhaEntrega]
    badges: dict[str, int]
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


def linha_naive(entrega: EntregaMonitorada, hoje: date) -> LinhaEntrega:
    """Build a row; each relationship access is a lazy load (the naive N+1)."""
    agendamentos = entrega.agendamentos
    ultimo = agendamentos[-1] if agendamentos else None
    extras = ExtrasLinha(
        comentarios=len(entrega.comentarios),
        custos_extras=sum((c.valor for c in entrega.custos_extras), Decimal("0")),
        ultimo_agendamento=None
        if ultimo is None
        else AgendamentoResumo(ultimo.id, ultimo.data_agendada, ultimo.protocolo, ultimo.status),
    )
    return linha(entrega, extras, hoje)


def listar_entregas(filtros: FiltrosEntregas, forcado: str | None) -> ListaEntregas:
    """The naive data function of the monitoring list."""
    e = EntregaMonitorada
    conds = all_conditions(filtros, forcado)
    total = db.session.execute(sa.select(sa.func.count()).select_from(e).where(*conds)).scalar_one()
    rows = (
        db.session.execute(
            sa.select(e)
            .where(*conds)
            .order_by(e.criado_em.desc(), e.id.desc())
            .limit(PER_PAGE)
            .offset((filtros.page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    base = base_conditions(filtros, forcado)
    badges: dict[str, int] = {}
    for badge in BADGES:
        cond = status_condition(badge, filtros.hoje)
        assert cond is not None  # every badge is a real status mode
        badges[badge] = db.session.execute(
            sa.select(sa.func.count()).select_from(e).where(*base, cond)
        ).scalar_one()
    linhas = [linha_naive(entrega, filtros.hoje) for entrega in rows]
    return ListaEntregas(Page(linhas, filtros.page, PER_PAGE, total), badges, filtros.status)


@bp.get("/listar")
@login_required
def listar() -> Any:
    """Monitoring list page (HTML or ``?format=json``)."""
    filtros = parse_filtros(request.args)
    if is_optimized():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import entregas as optimized

        data = optimized.listar_entregas(filtros, vendedor_forcado())
    elif is_cached():
        from fretes.views import cached

        data = cached.listar_entregas(filtros, vendedor_forcado())
    else:
        data = listar_entregas(filtros, vendedor_forcado())
    return respond(
        "monitoramento/listar.html",
        data,
        filtros=filtros,
        export_url=export_url,
        status_modes=STATUS_MODES,
        is_admin=vendedor_forcado() is None,
    )


def export_url(formato: str) -> str:
    """The export link for the current filters (page and format dropped)."""
    args: dict[str, Any] = {
        k: v for k, v in request.args.items() if k not in ("page", "format", "formato")
    }
    return url_for("monitoramento.exportar", formato=formato, **args)
