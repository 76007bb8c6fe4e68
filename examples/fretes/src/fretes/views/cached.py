"""Cached data functions of the `fretes` pages (the ``cached`` mode).

Each function is its optimized twin (``fretes.views.optimized``) wrapped in Turbina's cache:
``turbina.cached(context, depends_on=[...])``. The key is built from every argument, so

- the forced vendedor (``forcado``) and the ``vendedor`` filter are part of the key: one
  vendedor's page is never served to another, nor to an admin;
- relative dates are explicit arguments (``hoje`` of the monitoring filters, ``ate`` of the
  report windows), so an entry computed yesterday is never served for today.

``depends_on`` lists exactly the tables each function reads, no more: a committed write to a
table a page never reads does not invalidate it. The export is not cached: it streams.

Contexts (TTL from ``TURBINA_CACHE_CONTEXTS``): monitoring list -> ``entregas``; embarques
dashboard and fretes list -> ``embarques``; faturamento report -> ``faturamento``; pedidos
status -> ``dashboards``.
"""

from __future__ import annotations

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
from fretes.views import embarques as embarques_page
from fretes.views import faturamento as faturamento_page
from fretes.views import fretes_consulta as fretes_page
from fretes.views import monitoramento as monitoramento_page
from fretes.views import pedidos as pedidos_page
from fretes.views.optimized import embarques, entregas, relatorios
from fretes.views.rendering import Page
from turbina import cached, register_dataclass

__all__ = [
    "CONTEXTS",
    "consultar_fretes",
    "dashboard_embarques",
    "listar_entregas",
    "relatorio_faturamento",
    "status_pedidos",
]

# Every dataclass a cached value holds. Registered at import so that a process reading an
# entry another process wrote decodes it (an unregistered class would read as a miss).
for _cls in (
    Page,
    monitoramento_page.ListaEntregas,
    monitoramento_page.LinhaEntrega,
    monitoramento_page.AgendamentoResumo,
    embarques_page.DashboardEmbarques,
    embarques_page.LinhaEmbarque,
    fretes_page.LinhaFrete,
    faturamento_page.RelatorioFaturamento,
    faturamento_page.TotalCliente,
    faturamento_page.LinhaFatura,
    pedidos_page.StatusPedidos,
    pedidos_page.LinhaPedido,
):
    register_dataclass(_cls)

listar_entregas = cached(
    "entregas",
    depends_on=[EntregaMonitorada, ComentarioNF, CustoExtraEntrega, AgendamentoEntrega],
)(entregas.listar_entregas)

dashboard_embarques = cached(
    "embarques", depends_on=[Embarque, Transportadora, EmbarqueItem, Frete]
)(embarques.dashboard_embarques)

consultar_fretes = cached("embarques", depends_on=[Frete, Transportadora, Embarque])(
    embarques.consultar_fretes
)

relatorio_faturamento = cached("faturamento", depends_on=[RelatorioFaturamentoImportado])(
    relatorios.relatorio_faturamento
)

status_pedidos = cached("dashboards", depends_on=[Pedido])(relatorios.status_pedidos)

# Page data function name -> its cache context (used by benchmarks to label hit rates).
CONTEXTS = {
    "listar_entregas": "entregas",
    "dashboard_embarques": "embarques",
    "consultar_fretes": "embarques",
    "relatorio_faturamento": "faturamento",
    "status_pedidos": "dashboards",
}
