"""A small deterministic fretes dataset for the index-advisor tests (few thousand rows).

The tables are idx_schema's Core copy of the reference app's models: the library's tests
import nothing from the app."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from idx_schema import ENTREGA_FINAL_STATUSES, FRETE_STATUSES, PEDIDO_STATUSES, metadata

VENDEDORES = [f"Vendedor {i:02d}" for i in range(30)]
CLIENTES = [f"Cliente {i:03d} Ltda" for i in range(300)]


def populate(engine: sa.Engine, entregas: int = 3000, seed: int = 42) -> None:
    """Create the fretes tables and fill them with a small, skewed, deterministic dataset."""
    rnd = random.Random(seed)
    metadata.create_all(engine)
    t = metadata.tables
    start = date(2024, 1, 1)
    rows = []
    for i in range(1, entregas + 1):
        open_ = rnd.random() < 0.1  # most deliveries are finished: "open" is a small fraction
        embarque = start + timedelta(days=rnd.randrange(700))
        rows.append(
            {
                "id": i,
                "numero_nf": f"{100000 + i}",
                "cliente": rnd.choice(CLIENTES),
                "cnpj_cliente": f"{rnd.randrange(10**13):014d}",
                "transportadora": f"Transp {rnd.randrange(20)}",
                "municipio": f"Cidade {rnd.randrange(200)}",
                "uf": rnd.choice(["SP", "MG", "RJ", "PR", "SC"]),
                "vendedor": rnd.choice(VENDEDORES),
                "valor_nf": rnd.randrange(100, 100000),
                "data_faturamento": embarque - timedelta(days=2),
                "data_embarque": embarque,
                "data_entrega_prevista": embarque + timedelta(days=7),
                "data_agenda": None,
                "entregue": not open_,
                "status_finalizacao": None if open_ else rnd.choice(ENTREGA_FINAL_STATUSES),
                "reagendar": False,
                "pendencia_financeira": rnd.random() < 0.05,
                "criado_em": datetime(2024, 1, 1) + timedelta(minutes=rnd.randrange(10**6)),
            }
        )
    logs = [
        {
            "id": n,
            "entrega_id": rnd.randrange(1, entregas + 1),
            "autor": "x",
            "descricao": "log",
            "tipo": "info",
            "data_hora": datetime(2024, 1, 1),
        }
        for n in range(1, 2 * entregas + 1)
    ]
    comentarios = [
        {
            "id": n,
            "entrega_id": rnd.randrange(1, entregas + 1),
            "texto": "c",
            "autor": "a",
            "criado_em": datetime(2024, 1, 1),
            "resposta_a_id": None,
        }
        for n in range(1, entregas + 1)
    ]
    transportadoras = [
        {"id": n, "cnpj": f"{n:014d}", "razao_social": f"Transp {n}", "ativo": True}
        for n in range(1, 21)
    ]
    embarques = [
        {
            "id": n,
            "numero": n,
            "data_embarque": start + timedelta(days=rnd.randrange(700)),
            "status": "ativo" if rnd.random() < 0.1 else rnd.choice(["draft", "cancelado"]),
            "transportadora_id": rnd.randrange(1, 21),
            "criado_em": datetime(2024, 1, 1),
        }
        for n in range(1, entregas // 5 + 1)
    ]
    fretes = [
        {
            "id": n,
            "embarque_id": rnd.randrange(1, entregas // 5 + 1),
            "transportadora_id": rnd.randrange(1, 21),
            "status": rnd.choice(FRETE_STATUSES),
            "numero_cte": f"CTE{n}",
            "criado_em": datetime(2024, 1, 1) + timedelta(minutes=rnd.randrange(10**6)),
        }
        for n in range(1, entregas // 2 + 1)
    ]
    pedidos = [
        {
            "id": n,
            "num_pedido": f"P{n}",
            "cnpj_cpf": "1",
            "status": rnd.choice(PEDIDO_STATUSES),
            "expedicao": start + timedelta(days=rnd.randrange(700)),
            "rota": f"R{rnd.randrange(10)}",
            "criado_em": datetime(2024, 1, 1),
        }
        for n in range(1, entregas // 2 + 1)
    ]
    faturas = [
        {
            "id": n,
            "numero_nf": f"{100000 + n}",
            "data_fatura": start + timedelta(days=rnd.randrange(700)),
            "nome_cliente": rnd.choice(CLIENTES),
            "valor_total": rnd.randrange(100, 10**5),
            "vendedor": rnd.choice(VENDEDORES),
            "ativo": True,
            "criado_em": datetime(2024, 1, 1),
        }
        for n in range(1, 2 * entregas + 1)
    ]
    batches: list[tuple[str, Sequence[Mapping[str, Any]]]] = [
        ("entregas_monitoradas", rows),
        ("logs_entrega", logs),
        ("comentarios_nf", comentarios),
        ("transportadoras", transportadoras),
        ("embarques", embarques),
        ("fretes", fretes),
        ("pedidos", pedidos),
        ("relatorio_faturamento_importado", faturas),
    ]
    with engine.begin() as conn:
        for name, data in batches:
            conn.execute(t[name].insert(), data)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
