"""The fretes list (GET /fretes/consulta) and a new frete (POST /fretes).

Filters: status, transportadora (id), criado_de / criado_ate (dates, inclusive), numero_cte
(exact), numero_nf (an exact element of the comma-separated numeros_nfs). 50 per page, newest
first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from fretes.models import FRETE_STATUSES, Frete
from fretes.params import (
    parse_choice,
    parse_code,
    parse_date_range,
    parse_decimal,
    parse_int,
    parse_page,
    parse_text,
)

PER_PAGE = 50


@dataclass(frozen=True)
class FiltrosFretes:
    """Validated filters of the fretes list."""

    status: str | None = None
    transportadora: int | None = None
    criado_de: date | None = None
    criado_ate: date | None = None
    numero_cte: str | None = None
    numero_nf: str | None = None
    page: int = 1


@dataclass
class LinhaFrete:
    """One frete with its carrier and embarque."""

    id: int
    status: str
    nome_cliente: str | None
    cnpj_cliente: str | None
    numeros_nfs: str | None
    numero_cte: str | None
    valor_cotado: Decimal | None
    valor_cte: Decimal | None
    valor_pago: Decimal | None
    criado_em: datetime
    transportadora_id: int | None
    transportadora: str | None
    embarque_id: int | None
    embarque_numero: int | None
    embarque_data: date | None


def parse_filtros(args: Mapping[str, Any]) -> FiltrosFretes:
    """Read and validate the list filters (raises BadParameter)."""
    de, ate = parse_date_range(args, "criado_de", "criado_ate")
    return FiltrosFretes(
        status=parse_choice(args, "status", FRETE_STATUSES),
        transportadora=parse_int(args, "transportadora"),
        criado_de=de,
        criado_ate=ate,
        numero_cte=parse_code(args, "numero_cte", max_len=50),
        numero_nf=parse_code(args, "numero_nf"),
        page=parse_page(args),
    )


def conditions(filtros: FiltrosFretes) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions of the filters."""
    f = Frete
    conds: list[sa.ColumnElement[bool]] = []
    if filtros.status:
        conds.append(f.status == filtros.status)
    if filtros.transportadora is not None:
        conds.append(f.transportadora_id == filtros.transportadora)
    if filtros.criado_de is not None:
        conds.append(f.criado_em >= datetime.combine(filtros.criado_de, time.min))
    if filtros.criado_ate is not None:
        conds.append(
            f.criado_em < datetime.combine(filtros.criado_ate + timedelta(days=1), time.min)
        )
    if filtros.numero_cte:
        conds.append(f.numero_cte == filtros.numero_cte)
    if filtros.numero_nf:
        # ',1001,' inside ',' || numeros_nfs-without-spaces || ',' matches the whole element.
        lista = sa.literal(",") + sa.func.replace(f.numeros_nfs, " ", "") + sa.literal(",")
        conds.append(lista.contains(f",{filtros.numero_nf},", autoescape=True))
    return conds


def contagem(filtros: FiltrosFretes) -> sa.Select[int]:
    """COUNT of the matching fretes."""
    return sa.select(sa.func.count()).select_from(Frete).where(*conditions(filtros))


def fretes_em_ordem(filtros: FiltrosFretes) -> sa.Select[Frete]:
    """One page of the matching fretes, newest first."""
    return (
        sa.select(Frete)
        .where(*conditions(filtros))
        .order_by(Frete.criado_em.desc(), Frete.id.desc())
        .limit(PER_PAGE)
        .offset((filtros.page - 1) * PER_PAGE)
    )


def linha_frete(frete: Frete) -> LinhaFrete:
    """Build a row; reads the frete's transportadora and embarque (lazy loads unless the
    query loaded them)."""
    transportadora = frete.transportadora
    embarque = frete.embarque
    return LinhaFrete(
        id=frete.id,
        status=frete.status,
        nome_cliente=frete.nome_cliente,
        cnpj_cliente=frete.cnpj_cliente,
        numeros_nfs=frete.numeros_nfs,
        numero_cte=frete.numero_cte,
        valor_cotado=frete.valor_cotado,
        valor_cte=frete.valor_cte,
        valor_pago=frete.valor_pago,
        criado_em=frete.criado_em,
        transportadora_id=frete.transportadora_id,
        transportadora=transportadora.razao_social if transportadora is not None else None,
        embarque_id=frete.embarque_id,
        embarque_numero=embarque.numero if embarque is not None else None,
        embarque_data=embarque.data_embarque if embarque is not None else None,
    )


@dataclass(frozen=True)
class NovoFrete:
    """The validated fields of POST /fretes (the ids are checked against the database by the
    write itself)."""

    transportadora_id: int
    embarque_id: int | None
    cnpj_cliente: str | None
    nome_cliente: str | None
    numeros_nfs: str | None
    valor_cotado: Decimal
    valor_cte: Decimal | None
    numero_cte: str | None
    status: str


def parse_novo_frete(body: Mapping[str, Any]) -> NovoFrete:
    """Required: transportadora_id, valor_cotado; optional: embarque_id, cnpj_cliente,
    nome_cliente, numeros_nfs (comma-separated NF numbers), numero_cte, valor_cte, status
    (default PENDENTE)."""
    transportadora_id = parse_int(body, "transportadora_id", required=True)
    valor_cotado = parse_decimal(body, "valor_cotado", required=True)
    assert transportadora_id is not None and valor_cotado is not None  # required=True
    numeros = parse_text(body, "numeros_nfs", max_len=2000)
    if numeros is not None:
        nfs = [n.strip() for n in numeros.split(",") if n.strip()]
        for nf in nfs:
            parse_code({"numeros_nfs": nf}, "numeros_nfs")
        numeros = ",".join(nfs)
    return NovoFrete(
        transportadora_id=transportadora_id,
        embarque_id=parse_int(body, "embarque_id"),
        cnpj_cliente=parse_text(body, "cnpj_cliente", max_len=20),
        nome_cliente=parse_text(body, "nome_cliente", max_len=255),
        numeros_nfs=numeros,
        valor_cotado=valor_cotado,
        valor_cte=parse_decimal(body, "valor_cte"),
        numero_cte=parse_code(body, "numero_cte", max_len=50),
        status=parse_choice(body, "status", FRETE_STATUSES, default="PENDENTE") or "PENDENTE",
    )


RESULT_TYPES = (LinhaFrete,)
