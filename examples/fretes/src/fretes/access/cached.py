"""The cached form: the optimized data functions wrapped in Turbina's cache.

``CACHED_FUNCTIONS`` is the one table of (function, context, dependencies) — and the page
each function serves. The wrappers below are built from it, the tests check every row of it
against real requests, and the benchmark harness labels hit rates with it. The key is built
from every argument, so

- the forced vendedor (``forcado``) and the ``vendedor`` filter are part of the key: one
  vendedor's page is never served to another, nor to an admin;
- relative dates are explicit arguments (``hoje`` of the monitoring filters, ``ate`` of the
  report windows), so an entry computed yesterday is never served for today.

``depends_on`` lists exactly the tables each function reads, no more: a committed write to a
table a page never reads does not invalidate it. The export is not cached: it is built from
the database at each request (``exportar_entregas`` is the optimized one).

The functions are module attributes looked up at call time (the registry maps the ``cached``
mode to this module), so a benchmark may put another cache design in their place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fretes.access import optimized
from fretes.domain import embarques, faturamento, fretes, monitoramento, pedidos
from fretes.domain.paging import Page
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
)
from turbina import cached, register_dataclass

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CachedFunction:
    """One cached data function: its name in ``PageAccess``, its cache context (TTL from
    ``TURBINA_CACHE_CONTEXTS``), the models whose tables it reads, and the page it serves."""

    name: str
    context: str
    depends_on: tuple[type, ...]
    path: str

    @property
    def label(self) -> str:
        """The page as the benchmark harness names it: ``GET /path``."""
        return f"GET {self.path}"


CACHED_FUNCTIONS: tuple[CachedFunction, ...] = (
    CachedFunction(
        "listar_entregas",
        "entregas",
        (EntregaMonitorada, ComentarioNF, CustoExtraEntrega, AgendamentoEntrega),
        "/monitoramento/listar",
    ),
    CachedFunction(
        "dashboard_embarques",
        "embarques",
        (Embarque, Transportadora, EmbarqueItem, Frete),
        "/embarques/dashboard",
    ),
    CachedFunction(
        "consultar_fretes", "embarques", (Frete, Transportadora, Embarque), "/fretes/consulta"
    ),
    CachedFunction(
        "relatorio_faturamento",
        "faturamento",
        (RelatorioFaturamentoImportado,),
        "/faturamento/relatorio",
    ),
    CachedFunction("status_pedidos", "dashboards", (Pedido,), "/pedidos/status"),
)
# Function name -> context, and the contexts in table order (the harness reports by these).
CONTEXTS = {spec.name: spec.context for spec in CACHED_FUNCTIONS}
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


def _cached(func: F) -> F:
    """``func`` wrapped in the cache as its row of ``CACHED_FUNCTIONS`` says."""
    spec = _BY_NAME[func.__name__]
    return cached(spec.context, depends_on=spec.depends_on)(func)


listar_entregas = _cached(optimized.listar_entregas)
dashboard_embarques = _cached(optimized.dashboard_embarques)
consultar_fretes = _cached(optimized.consultar_fretes)
relatorio_faturamento = _cached(optimized.relatorio_faturamento)
status_pedidos = _cached(optimized.status_pedidos)
# Streamed and bounded, never cached.
contar_exportacao = optimized.contar_exportacao
exportar_entregas = optimized.exportar_entregas
