"""The pedidos status page (GET /pedidos/status): counters by status and the pedidos with
expedicao in the last ``dias`` days (default 30) ending at ``ate`` (default today), ordered by
rota, sub_rota, expedicao."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fretes.domain.paging import Page
from fretes.models import PEDIDO_STATUSES, Pedido
from fretes.params import parse_choice, parse_date, parse_int, parse_page

PER_PAGE = 20
MAX_DIAS = 3650


@dataclass(frozen=True)
class FiltrosPedidos:
    """Validated filters of the status page."""

    dias: int
    ate: date
    status: str | None
    page: int

    @property
    def desde(self) -> date:
        """First day of the expedicao window (inclusive)."""
        return self.ate - timedelta(days=self.dias - 1)


@dataclass
class LinhaPedido:
    """One pedido of the list."""

    id: int
    num_pedido: str
    cnpj_cpf: str
    raz_social_red: str | None
    nome_cidade: str | None
    cod_uf: str | None
    rota: str | None
    sub_rota: str | None
    expedicao: date | None
    status: str
    valor_saldo_total: Decimal | None
    peso_total: Decimal | None


@dataclass
class StatusPedidos:
    """What /pedidos/status shows."""

    desde: date
    ate: date
    contadores: dict[str, int]
    pedidos: Page[LinhaPedido]


def parse_filtros(args: Mapping[str, Any], today: date | None = None) -> FiltrosPedidos:
    """Read and validate the page's parameters (raises BadParameter)."""
    dias = parse_int(args, "dias", minimum=1, maximum=MAX_DIAS, default=30)
    assert dias is not None
    return FiltrosPedidos(
        dias=dias,
        ate=parse_date(args, "ate") or today or date.today(),
        status=parse_choice(args, "status", PEDIDO_STATUSES),
        page=parse_page(args),
    )


def conditions(filtros: FiltrosPedidos) -> list[sa.ColumnElement[bool]]:
    """The expedicao window and the status filter."""
    p = Pedido
    conds: list[sa.ColumnElement[bool]] = [p.expedicao >= filtros.desde, p.expedicao <= filtros.ate]
    if filtros.status:
        conds.append(p.status == filtros.status)
    return conds


def ordem() -> tuple[Any, ...]:
    """rota, sub_rota (NULLs last), expedicao, id."""
    p = Pedido
    return (p.rota.asc().nulls_last(), p.sub_rota.asc().nulls_last(), p.expedicao, p.id)


RESULT_TYPES = (StatusPedidos, LinhaPedido)
