"""POST /faturamento/importar — import a batch of faturamento rows.

Body: a JSON list of objects (or a form field ``linhas`` holding that JSON text), at most
``MAX_BATCH`` rows. Each row needs ``numero_nf``; ``data_fatura``, ``cnpj_cliente``,
``nome_cliente``, ``valor_total``, ``vendedor``, ``municipio``, ``estado``, ``ativo`` are
optional. Rows are *upserted by numero_nf*: an existing invoice is updated with the fields
given, a new one inserted. The same numero_nf twice in one batch is a 400. The batch is one
transaction: any bad row rejects the whole batch.

A vendedor may import only their own rows: a row naming another vendedor, or updating an
invoice of another vendedor, is a 403; a row without vendedor gets theirs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_login import login_required

from fretes.models import RelatorioFaturamentoImportado, db
from fretes.params import (
    BadParameter,
    parse_bool,
    parse_code,
    parse_date,
    parse_decimal,
    parse_text,
)
from fretes.views.faturamento import bp
from fretes.views.rendering import vendedor_forcado, write_done

MAX_BATCH = 1000
FIELDS = (
    "data_fatura",
    "cnpj_cliente",
    "nome_cliente",
    "valor_total",
    "vendedor",
    "municipio",
    "estado",
    "ativo",
)


def _linhas() -> list[Any]:
    if request.is_json:
        body = request.get_json(silent=True)
    else:
        text = request.form.get("linhas", "")
        try:
            body = json.loads(text)
        except ValueError:
            raise BadParameter("linhas", text, "a JSON list of faturamento objects") from None
    if not isinstance(body, list) or not body:
        raise BadParameter(
            "body", type(body).__name__, "a non-empty JSON list of faturamento objects"
        )
    if len(body) > MAX_BATCH:
        raise BadParameter("body", f"{len(body)} rows", f"at most {MAX_BATCH} rows per batch")
    return body


def parse_linha(index: int, raw: Any) -> dict[str, Any]:
    """Validate one row; parameter names in errors look like ``[3].valor_total``."""
    if not isinstance(raw, Mapping):
        raise BadParameter(f"[{index}]", type(raw).__name__, "a JSON object")
    row = {f"[{index}].{k}": v for k, v in raw.items()}
    p = f"[{index}]."
    numero_nf = parse_code(row, p + "numero_nf")
    if numero_nf is None:
        raise BadParameter(
            p + "numero_nf", None, "a code of 1 to 20 letters, digits, '.', '-' or '/'"
        )
    parsed: dict[str, Any] = {
        "numero_nf": numero_nf,
        "data_fatura": parse_date(row, p + "data_fatura"),
        "cnpj_cliente": parse_text(row, p + "cnpj_cliente", max_len=20),
        "nome_cliente": parse_text(row, p + "nome_cliente", max_len=255),
        "valor_total": parse_decimal(row, p + "valor_total"),
        "vendedor": parse_text(row, p + "vendedor", max_len=120),
        "municipio": parse_text(row, p + "municipio", max_len=100),
        "estado": parse_text(row, p + "estado", max_len=2),
        "ativo": parse_bool(row, p + "ativo", default=True),
    }
    given = {name for name in FIELDS if name in raw}
    return {k: v for k, v in parsed.items() if k == "numero_nf" or k in given}


def importar_faturamento(linhas: list[Any], forcado: str | None) -> dict[str, Any]:
    """Validate and upsert ``linhas``; returns counts and the ids in input order."""
    parsed = [parse_linha(i, raw) for i, raw in enumerate(linhas)]
    seen: dict[str, int] = {}
    for i, row in enumerate(parsed):
        if row["numero_nf"] in seen:
            raise BadParameter(
                f"[{i}].numero_nf",
                row["numero_nf"],
                f"a numero_nf not already used in this batch (row {seen[row['numero_nf']]})",
            )
        seen[row["numero_nf"]] = i
        if forcado is not None:
            if row.get("vendedor") not in (None, forcado):
                abort(403, description=f"row {i}: a vendedor may import only their own rows")
            row["vendedor"] = forcado
    f = RelatorioFaturamentoImportado
    existing = {
        r.numero_nf: r
        for r in db.session.execute(sa.select(f).where(f.numero_nf.in_(list(seen)))).scalars()
    }
    inserted = updated = 0
    objects = []
    for i, row in enumerate(parsed):
        current = existing.get(row["numero_nf"])
        if current is None:
            current = f(criado_em=datetime.now(), **row)
            db.session.add(current)
            inserted += 1
        else:
            if forcado is not None and current.vendedor != forcado:
                db.session.rollback()
                abort(
                    403,
                    description=f"row {i}: invoice {row['numero_nf']} belongs to another vendedor",
                )
            for key, value in row.items():
                setattr(current, key, value)
            updated += 1
        objects.append(current)
    db.session.commit()
    return {"inserted": inserted, "updated": updated, "ids": [o.id for o in objects]}


@bp.post("/importar")
@login_required
def importar() -> Any:
    """Import a batch (JSON list); answers 201 when rows were inserted, else 200."""
    result = importar_faturamento(_linhas(), vendedor_forcado())
    return write_done(result, 201 if result["inserted"] else 200, url_for("faturamento.relatorio"))
