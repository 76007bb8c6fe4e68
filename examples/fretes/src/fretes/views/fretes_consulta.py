"""GET /fretes/consulta — the fretes list; POST /fretes — create a frete.

Filters: status, transportadora (id), criado_de / criado_ate (dates, inclusive), numero_cte
(exact), numero_nf (an exact element of the comma-separated numeros_nfs). 50 per page, newest
first. Naive form: per row a lazy load of its transportadora and its embarque.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from flask_login import login_required
from sqlalchemy.orm.interfaces import ORMOption

from fretes.mode import is_cached, is_optimized
from fretes.models import FRETE_STATUSES, Embarque, Frete, Transportadora, db
from fretes.params import (
    BadParameter,
    parse_choice,
    parse_code,
    parse_date_range,
    parse_decimal,
    parse_int,
    parse_page,
    parse_text,
)
from fretes.views.rendering import Page, request_body, respond, write_done

bp = Blueprint("fretes", __name__, url_prefix="/fretes")

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


def parse_filtros(args: Any) -> FiltrosFretes:
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


def linha_naive(frete: Frete) -> LinhaFrete:
    """Build a row; transportadora and embarque are each a lazy load."""
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


def consultar_fretes(filtros: FiltrosFretes, loaders: Sequence[ORMOption] = ()) -> Page[LinhaFrete]:
    """The data function of the fretes list: naive (lazy loads per row) without ``loaders``;
    the optimized form passes the eager loaders an N+1 finding names."""
    conds = conditions(filtros)
    total = db.session.execute(
        sa.select(sa.func.count()).select_from(Frete).where(*conds)
    ).scalar_one()
    rows = (
        db.session.execute(
            sa.select(Frete)
            .options(*loaders)
            .where(*conds)
            .order_by(Frete.criado_em.desc(), Frete.id.desc())
            .limit(PER_PAGE)
            .offset((filtros.page - 1) * PER_PAGE)
        )
        .scalars()
        .all()
    )
    return Page([linha_naive(frete) for frete in rows], filtros.page, PER_PAGE, total)


@bp.get("/consulta")
@login_required
def consulta() -> Any:
    """Fretes list (HTML or ``?format=json``)."""
    filtros = parse_filtros(request.args)
    if is_optimized():
        # Imported here because the optimized module imports this one.
        from fretes.views.optimized import embarques as optimized

        data = optimized.consultar_fretes(filtros)
    elif is_cached():
        from fretes.views import cached

        data = cached.consultar_fretes(filtros)
    else:
        data = consultar_fretes(filtros)
    transportadoras = (
        []
        if request.args.get("format") == "json"
        else db.session.execute(
            sa.select(Transportadora.id, Transportadora.razao_social).order_by(
                Transportadora.razao_social
            )
        ).all()
    )
    return respond(
        "fretes/consulta.html",
        data,
        filtros=filtros,
        statuses=FRETE_STATUSES,
        transportadoras=transportadoras,
    )


@bp.post("")
@login_required
def criar_frete() -> Any:
    """Create a frete. Required: transportadora_id, valor_cotado; optional: embarque_id,
    cnpj_cliente, nome_cliente, numeros_nfs, numero_cte, valor_cte, status (default PENDENTE)."""
    body = request_body()
    transportadora_id = parse_int(body, "transportadora_id", required=True)
    if db.session.get(Transportadora, transportadora_id) is None:
        raise BadParameter(
            "transportadora_id", transportadora_id, "the id of an existing transportadora"
        )
    embarque_id = parse_int(body, "embarque_id")
    if embarque_id is not None and db.session.get(Embarque, embarque_id) is None:
        raise BadParameter("embarque_id", embarque_id, "the id of an existing embarque")
    numeros = parse_text(body, "numeros_nfs", max_len=2000)
    if numeros is not None:
        nfs = [n.strip() for n in numeros.split(",") if n.strip()]
        for nf in nfs:
            parse_code({"numeros_nfs": nf}, "numeros_nfs")
        numeros = ",".join(nfs)
    frete = Frete(
        transportadora_id=transportadora_id,
        embarque_id=embarque_id,
        cnpj_cliente=parse_text(body, "cnpj_cliente", max_len=20),
        nome_cliente=parse_text(body, "nome_cliente", max_len=255),
        numeros_nfs=numeros,
        valor_cotado=parse_decimal(body, "valor_cotado", required=True),
        valor_cte=parse_decimal(body, "valor_cte"),
        numero_cte=parse_code(body, "numero_cte", max_len=50),
        status=parse_choice(body, "status", FRETE_STATUSES, default="PENDENTE"),
        criado_em=datetime.now(),
    )
    db.session.add(frete)
    db.session.commit()
    return write_done({"id": frete.id}, 201, url_for("fretes.consulta"))
