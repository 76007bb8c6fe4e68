"""The cached form: the optimized data functions wrapped in Turbina's cache.

``CACHED_FUNCTIONS`` is the one table of (function, context, dependencies) — and the page
each function serves. The wrappers below are built from it, the tests check every row of it
against real requests, and the benchmark harness labels hit rates with it. The key is built
from every argument, so

- the forced vendedor (``forcado``) and the ``vendedor`` filter are part of the key: one
  vendedor's page is never served to another, nor to an admin;
- relative dates are explicit arguments (``hoje`` of the monitoring filters, ``ate`` of the
  report windows), so an entry computed yesterday is never served for today.

Dependencies are as fine as the data allows (``turbina.cache.scoped``):

- **by vendedor** — a page of the forced vendedor depends on that vendedor's rows only
  (``scoped(EntregaMonitorada.vendedor, arg="forcado", ...)``); an admin's page (``forcado``
  None: every vendedor, the ``vendedor`` filter being a substring match) on every vendedor's;
- **by the rows a page shows** — the comment count, extra costs and last agendamento of a row
  depend on the children of that entrega only (``depends_on_rows(ComentarioNF.entrega_id,
  ids)``): a comment on another entrega leaves the page cached;
- **by the columns that place a row** — the partition *watches* the columns the list's and
  the counters' WHERE and ORDER BY read (computed from the queries themselves below), so an
  update of a shown-only column (``data_agenda`` when scheduling) invalidates only the pages
  showing that entrega, while a delivery (``entregue``) moves rows between statuses and
  invalidates the vendedor's pages;
- **fragments apart** — the list page is two entries with different dependencies: the page
  of rows (``pagina_entregas``) and the badge counters (``contar_badges``, keyed without the
  status and the page, the same entry the lazy ``/monitoramento/badges`` fragment reads).
  The counters depend on the children of every entrega under the base filters (a comment
  on one of them may change ``com_comentarios``), the rows on those of the 20 shown.

Writes known to the ORM (every write of ``fretes.access.writes``) carry the old and new
values of those columns; any other write (Core, raw SQL) invalidates every scoped entry of
the table. The export is not cached: it is built from the database at each request.

The functions are module attributes looked up at call time (the registry maps the ``cached``
mode to this module), so a benchmark may put another cache design in their place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from fretes.access import optimized
from fretes.domain import embarques, faturamento, fretes, monitoramento, pedidos
from fretes.domain.embarques import DashboardEmbarques
from fretes.domain.fretes import LinhaFrete
from fretes.domain.monitoramento import (
    BadgesEntregas,
    FiltrosEntregas,
    LinhaEntrega,
    ListaEntregas,
    filtros_dos_badges,
)
from fretes.domain.paging import Page
from fretes.domain.pedidos import FiltrosPedidos, LinhaPedido, StatusPedidos
from fretes.models import (
    AgendamentoEntrega,
    ComentarioNF,
    CustoExtraEntrega,
    Embarque,
    EmbarqueItem,
    EntregaMonitorada,
    Frete,
    Pedido,
    RelatorioFaturamentoImportado,
    Transportadora,
    db,
)
from turbina import cached, register_dataclass
from turbina.cache import depends_on_all_rows, depends_on_rows, scoped
from turbina.cache.scopes import MAX_ROWS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CachedFunction:
    """One cached data function: its name in this module, its cache context (TTL from
    ``TURBINA_CACHE_CONTEXTS``), what its entries depend on (models: whole tables;
    ``scoped(...)``: finer), the page it serves, and the ``PageAccess`` function it is (or is
    a fragment of)."""

    name: str
    context: str
    depends_on: tuple[Any, ...]
    path: str
    serves: str = ""

    @property
    def label(self) -> str:
        """The page as the benchmark harness names it: ``GET /path``."""
        return f"GET {self.path}"

    @property
    def access(self) -> str:
        """The ``PageAccess`` function this row is part of."""
        return self.serves or self.name


def _columns_read(table: sa.FromClause, clauses: Iterable[Any]) -> set[str]:
    """Names of ``table``'s columns the SQL ``clauses`` read (subqueries included)."""
    found: set[str] = set()
    for item in clauses:
        if item is None:
            continue
        clause = item.__clause_element__() if hasattr(item, "__clause_element__") else item
        for element in visitors.iterate(clause):
            if isinstance(element, sa.Column) and element.table is table:
                found.add(element.name)
    return found


def _tables_read(clause: Any) -> set[str]:
    return {
        element.table.name
        for element in visitors.iterate(clause)
        if isinstance(element, sa.Column) and isinstance(element.table, sa.Table)
    }


def _placing_columns() -> frozenset[str]:
    """Every column of entregas_monitoradas that decides whether and where a row is on the
    list or in a counter: the WHERE and ORDER BY of every status mode with every filter set,
    and the badge conditions — read from the queries, so a new filter is watched at once."""
    table = EntregaMonitorada.__table__
    every_filter = FiltrosEntregas(
        vendedor="v",
        cliente="c",
        uf="u",
        transportadora="t",
        municipio="m",
        data_embarque_de=date.min,
        data_embarque_ate=date.max,
    )
    found: set[str] = set()
    for status in monitoramento.STATUS_MODES:
        for forcado in (None, "v"):
            query = monitoramento.entregas_em_ordem(replace(every_filter, status=status), forcado)
            found |= _columns_read(table, [query.whereclause, *query._order_by_clauses])
    for badge in monitoramento.BADGES:
        found |= _columns_read(table, [monitoramento.status_condition(badge, date.min)])
    return frozenset(found)


# Status modes whose condition reads a child table (``com_comentarios``: any comment of the
# entrega): their pages depend on the children of every entrega under the base filters.
_CHILD_TABLES = frozenset({ComentarioNF.__tablename__, AgendamentoEntrega.__tablename__})
_STATUS_CHILDREN: dict[str, frozenset[str]] = {}
for _status in monitoramento.STATUS_MODES:
    _condition = monitoramento.status_condition(_status, date.min)
    if _condition is not None and _tables_read(_condition) & _CHILD_TABLES:
        _STATUS_CHILDREN[_status] = frozenset(_tables_read(_condition) & _CHILD_TABLES)

E = EntregaMonitorada
PLACING_COLUMNS = _placing_columns()
# One vendedor's entregas (every vendedor's when ``forcado`` is None), watching the
# columns that place a row.
POR_VENDEDOR = scoped(E.vendedor, arg="forcado", watch=PLACING_COLUMNS)
# The children of each listed entrega, and the listed entregas themselves.
LINHAS_MOSTRADAS = (
    scoped(E.id),
    scoped(ComentarioNF.entrega_id),
    scoped(AgendamentoEntrega.entrega_id),
    scoped(CustoExtraEntrega.entrega_id),
)
DEPENDE_LISTA = (POR_VENDEDOR, *LINHAS_MOSTRADAS)
DEPENDE_BADGES = (
    POR_VENDEDOR,
    scoped(ComentarioNF.entrega_id),
    scoped(AgendamentoEntrega.entrega_id),
)

# Pedidos: the counters per status are over every pedido (one entry for all pages); a page
# depends on the columns its window and ordering read, and on the rows it shows. A page of
# one status is a partition of that status (a change from A to B bumps A and B only); a
# page of every status watches the placing columns without the status.
_PEDIDOS_PLACING = frozenset(
    _columns_read(
        Pedido.__table__,
        [*pedidos.conditions(FiltrosPedidos(1, date.min, None, 1)), *pedidos.ordem()],
    )
)
DEPENDE_PEDIDOS = (scoped(Pedido, watch=_PEDIDOS_PLACING), scoped(Pedido.id))
DEPENDE_PEDIDOS_STATUS = (
    scoped(Pedido.status, arg="status", watch=_PEDIDOS_PLACING),
    scoped(Pedido.id),
)

# Fretes: a page depends on the columns its filters and ordering read (a new frete, a status
# change: every page may move), on the fretes it shows (a paid value, a CT-e) and on the
# carriers and embarques those rows name — not on any other carrier or embarque.
_FRETES_PLACING = frozenset(
    _columns_read(
        Frete.__table__,
        [
            *fretes.conditions(
                fretes.FiltrosFretes(
                    status="s",
                    transportadora=1,
                    criado_de=date.min,
                    criado_ate=date.min,
                    numero_cte="c",
                    numero_nf="n",
                )
            ),
            *fretes.fretes_em_ordem(fretes.FiltrosFretes())._order_by_clauses,
        ],
    )
)
DEPENDE_FRETES = (
    scoped(Frete, watch=_FRETES_PLACING),
    scoped(Frete.id),
    scoped(Transportadora.id),
    scoped(Embarque.id),
)

CACHED_FUNCTIONS: tuple[CachedFunction, ...] = (
    CachedFunction(
        "pagina_entregas", "entregas", DEPENDE_LISTA, "/monitoramento/listar", "listar_entregas"
    ),
    CachedFunction("contar_badges", "entregas", DEPENDE_BADGES, "/monitoramento/badges"),
    CachedFunction(
        "dashboard_embarques",
        "embarques",
        (Embarque, Transportadora, scoped(EmbarqueItem.embarque_id), scoped(Frete.embarque_id)),
        "/embarques/dashboard",
    ),
    CachedFunction("consultar_fretes", "embarques", DEPENDE_FRETES, "/fretes/consulta"),
    CachedFunction(
        "relatorio_faturamento",
        "faturamento",
        (scoped(RelatorioFaturamentoImportado.vendedor, arg="forcado"),),
        "/faturamento/relatorio",
    ),
    CachedFunction("contar_pedidos", "dashboards", (Pedido,), "/pedidos/status", "status_pedidos"),
    CachedFunction(
        "pagina_pedidos", "dashboards", DEPENDE_PEDIDOS, "/pedidos/status", "status_pedidos"
    ),
    CachedFunction(
        "pagina_pedidos_status",
        "dashboards",
        DEPENDE_PEDIDOS_STATUS,
        "/pedidos/status",
        "status_pedidos",
    ),
)
# PageAccess function -> context, and the contexts in table order (the harness reports by these).
CONTEXTS = {spec.access: spec.context for spec in CACHED_FUNCTIONS}
CONTEXT_NAMES = tuple(dict.fromkeys(spec.context for spec in CACHED_FUNCTIONS))

# Every dataclass a cached value holds. Registered at import so that a process reading an
# entry another process wrote decodes it (an unregistered class would read as a miss).
for _cls in (
    Page,
    *monitoramento.RESULT_TYPES,
    *embarques.RESULT_TYPES,
    *fretes.RESULT_TYPES,
    *faturamento.RESULT_TYPES,
    *pedidos.RESULT_TYPES,
):
    register_dataclass(_cls)

_BY_NAME = {spec.name: spec for spec in CACHED_FUNCTIONS}


def _cached(func: F, name: str | None = None) -> F:
    """``func`` wrapped in the cache as its row of ``CACHED_FUNCTIONS`` (``name``, by default
    the function's own) says."""
    spec = _BY_NAME[name or func.__name__]
    return cached(spec.context, depends_on=spec.depends_on)(func)


def _depends_on_base_rows(
    columns: Iterable[Any], filtros: FiltrosEntregas, forcado: str | None
) -> None:
    """The computation depends on each of ``columns``' child rows of every entrega under the
    base filters (the whole child table past ``MAX_ROWS`` entregas). One query for all."""
    columns = list(columns)
    if not columns:
        return
    ids = (
        db.session.execute(
            sa.select(E.id)
            .where(*monitoramento.base_conditions(filtros, forcado))
            .limit(MAX_ROWS + 1)
        )
        .scalars()
        .all()
    )
    for column in columns:
        if len(ids) > MAX_ROWS:
            depends_on_all_rows(column)
        else:
            depends_on_rows(column, ids)


def _pagina_entregas(filtros: FiltrosEntregas, forcado: str | None) -> Page[LinhaEntrega]:
    """The list's page of rows and its total (the badge counters are another entry)."""
    page = optimized.listar_entregas(filtros, forcado, com_badges=False).entregas
    ids = [linha.id for linha in page.items]
    depends_on_rows(E.id, ids)
    depends_on_rows(CustoExtraEntrega.entrega_id, ids)
    children = _STATUS_CHILDREN.get(filtros.status, frozenset())
    base: list[Any] = []
    for column in (ComentarioNF.entrega_id, AgendamentoEntrega.entrega_id):
        if column.class_.__tablename__ in children:  # the status itself reads this child
            base.append(column)
        else:
            depends_on_rows(column, ids)
    _depends_on_base_rows(base, filtros, forcado)
    return page


def _contar_badges(filtros: FiltrosEntregas, forcado: str | None) -> BadgesEntregas:
    """The badge counters; they count entregas with comments / without agendamentos under
    the base filters, so they depend on those entregas' children."""
    badges = optimized.contar_badges(filtros, forcado)
    _depends_on_base_rows(
        (ComentarioNF.entrega_id, AgendamentoEntrega.entrega_id), filtros, forcado
    )
    return badges


def _dashboard_embarques(status: str, page: int) -> DashboardEmbarques:
    """The embarques dashboard; item and frete totals depend on the shown embarques only."""
    dashboard = optimized.dashboard_embarques(status, page)
    ids = [linha.id for linha in dashboard.embarques.items]
    depends_on_rows(EmbarqueItem.embarque_id, ids)
    depends_on_rows(Frete.embarque_id, ids)
    return dashboard


pagina_entregas = _cached(_pagina_entregas, "pagina_entregas")
contar_badges = _cached(_contar_badges, "contar_badges")
dashboard_embarques = _cached(_dashboard_embarques, "dashboard_embarques")


def _consultar_fretes(filtros: fretes.FiltrosFretes) -> Page[LinhaFrete]:
    """The fretes list; besides the placing columns, it depends on the shown fretes and the
    carriers and embarques they name."""
    page = optimized.consultar_fretes(filtros)
    depends_on_rows(Frete.id, [linha.id for linha in page.items])
    depends_on_rows(Transportadora.id, {linha.transportadora_id for linha in page.items} - {None})
    depends_on_rows(Embarque.id, {linha.embarque_id for linha in page.items} - {None})
    return page


consultar_fretes = _cached(_consultar_fretes, "consultar_fretes")
relatorio_faturamento = _cached(optimized.relatorio_faturamento)


def _contar_pedidos() -> dict[str, int]:
    """Pedidos per status, over every pedido (whatever the page's filters): one query (the
    page fragment runs its own)."""
    return optimized.contadores_pedidos()


def _pagina_pedidos(filtros: FiltrosPedidos) -> Page[LinhaPedido]:
    """A page of pedidos of every status, and its filtered total."""
    page = optimized.status_pedidos(filtros).pedidos
    depends_on_rows(Pedido.id, [linha.id for linha in page.items])
    return page


def _pagina_pedidos_status(filtros: FiltrosPedidos, status: str) -> Page[LinhaPedido]:
    """A page of the pedidos of ``status`` (``filtros.status``), and its filtered total."""
    return _pagina_pedidos(filtros)


contar_pedidos = _cached(_contar_pedidos, "contar_pedidos")
pagina_pedidos = _cached(_pagina_pedidos, "pagina_pedidos")
pagina_pedidos_status = _cached(_pagina_pedidos_status, "pagina_pedidos_status")


def status_pedidos(filtros: FiltrosPedidos) -> StatusPedidos:
    """The pedidos status page from its cached fragments: the counters and the page."""
    if filtros.status is None:
        page = pagina_pedidos(filtros)
    else:
        page = pagina_pedidos_status(filtros, filtros.status)
    return StatusPedidos(filtros.desde, filtros.ate, contar_pedidos(), page)


def listar_entregas(
    filtros: FiltrosEntregas, forcado: str | None, com_badges: bool = True
) -> ListaEntregas:
    """The monitoring list from its two cached fragments: the page of rows, and the badge
    counters under the base filters (shared by every status and page of the list; not read
    without ``com_badges``)."""
    page = pagina_entregas(filtros, forcado)
    if not com_badges:
        return ListaEntregas(page, None, filtros.status)
    badges = contar_badges(filtros_dos_badges(filtros), forcado)
    return ListaEntregas(page, badges.contagens, filtros.status)


# Streamed and bounded, never cached.
contar_exportacao = optimized.contar_exportacao
exportar_entregas = optimized.exportar_entregas
