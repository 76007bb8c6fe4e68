"""``PageAccess``: the signatures every data access form implements (checked by mypy: each
form module is assigned to a ``PageAccess`` in ``fretes.access.registry``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from fretes.domain.embarques import DashboardEmbarques
from fretes.domain.faturamento import FiltrosFaturamento, RelatorioFaturamento
from fretes.domain.fretes import FiltrosFretes, LinhaFrete
from fretes.domain.monitoramento import (
    BadgesEntregas,
    EntregaExport,
    FiltrosEntregas,
    ListaEntregas,
)
from fretes.domain.paging import Page
from fretes.domain.pedidos import FiltrosPedidos, StatusPedidos


class PageAccess(Protocol):
    """The data functions of the pages. ``forcado`` is the vendedor forced on the user (None
    for a role that sees every row). They talk to the database only; no Flask, no mode."""

    def listar_entregas(
        self, filtros: FiltrosEntregas, forcado: str | None, com_badges: bool = True
    ) -> ListaEntregas:
        """GET /monitoramento/listar. ``com_badges=False`` leaves the badge counters out
        (``badges`` None): the HTML page in the lazy assets mode loads them from
        /monitoramento/badges, so counting them here too would be done twice."""
        ...

    def contar_badges(self, filtros: FiltrosEntregas, forcado: str | None) -> BadgesEntregas:
        """GET /monitoramento/badges: the list's badge counters (base filters, no status)."""
        ...

    def contar_exportacao(self, filtros: FiltrosEntregas, forcado: str | None) -> int:
        """How many entregas the export of these filters holds (checked against its cap)."""
        ...

    def exportar_entregas(
        self, filtros: FiltrosEntregas, forcado: str | None
    ) -> Iterator[EntregaExport]:
        """GET /monitoramento/exportar: every matching entrega, newest first."""
        ...

    def dashboard_embarques(self, status: str, page: int) -> DashboardEmbarques:
        """GET /embarques/dashboard."""
        ...

    def consultar_fretes(self, filtros: FiltrosFretes) -> Page[LinhaFrete]:
        """GET /fretes/consulta."""
        ...

    def relatorio_faturamento(
        self, filtros: FiltrosFaturamento, forcado: str | None
    ) -> RelatorioFaturamento:
        """GET /faturamento/relatorio."""
        ...

    def status_pedidos(self, filtros: FiltrosPedidos) -> StatusPedidos:
        """GET /pedidos/status."""
        ...
