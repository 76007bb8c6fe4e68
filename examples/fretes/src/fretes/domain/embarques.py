"""The embarques dashboard (GET /embarques/dashboard): embarques of one status with carrier,
item and frete totals, plus a counter per status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fretes.domain.paging import Page
from fretes.models import EMBARQUE_STATUSES, Embarque
from fretes.params import parse_choice, parse_page

PER_PAGE = 50
ZERO = Decimal("0")


def parse_filtros(args: Mapping[str, Any]) -> tuple[str, int]:
    """``status`` (default ativo) and ``page`` of the dashboard (raises BadParameter)."""
    status = parse_choice(args, "status", EMBARQUE_STATUSES, default="ativo") or "ativo"
    return status, parse_page(args)


def embarques_em_ordem(status: str, page: int) -> sa.Select[Embarque]:
    """One page of the embarques of ``status``, latest data_embarque first."""
    return (
        sa.select(Embarque)
        .where(Embarque.status == status)
        .order_by(Embarque.data_embarque.desc().nulls_last(), Embarque.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )


@dataclass
class LinhaEmbarque:
    """One embarque on the dashboard."""

    id: int
    numero: int
    data_embarque: date | None
    status: str
    transportadora: str | None
    valor_total: Decimal | None
    itens: int
    itens_peso: Decimal
    itens_valor: Decimal
    fretes: int
    fretes_valor_cotado: Decimal


@dataclass
class DashboardEmbarques:
    """What /embarques/dashboard shows."""

    status: str
    contadores: dict[str, int]
    embarques: Page[LinhaEmbarque]


@dataclass
class TotaisEmbarque:
    """Item and frete aggregates of one embarque."""

    itens: int = 0
    itens_peso: Decimal = ZERO
    itens_valor: Decimal = ZERO
    fretes: int = 0
    fretes_valor_cotado: Decimal = ZERO


def linha_embarque(embarque: Embarque, totais: TotaisEmbarque) -> LinhaEmbarque:
    """Build a row from the embarque, its transportadora and its totals (both forms)."""
    transportadora = embarque.transportadora
    return LinhaEmbarque(
        id=embarque.id,
        numero=embarque.numero,
        data_embarque=embarque.data_embarque,
        status=embarque.status,
        transportadora=transportadora.razao_social if transportadora is not None else None,
        valor_total=embarque.valor_total,
        itens=totais.itens,
        itens_peso=totais.itens_peso,
        itens_valor=totais.itens_valor,
        fretes=totais.fretes,
        fretes_valor_cotado=totais.fretes_valor_cotado,
    )


def dashboard(
    status: str, page: int, contadores: dict[str, int], linhas: list[LinhaEmbarque]
) -> DashboardEmbarques:
    """The dashboard of ``status``: the counters, and the page of rows (its total is the
    status's own counter)."""
    return DashboardEmbarques(
        status, contadores, Page(linhas, page, PER_PAGE, contadores.get(status, 0))
    )


RESULT_TYPES = (DashboardEmbarques, LinhaEmbarque)
