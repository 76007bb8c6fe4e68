"""Pieces of ``bench.cache_workload``: the seed's cache design, the simple page mix, writes."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any, ClassVar

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

__all__ = ["SeedCache", "build_pages", "build_writes"]


class SeedCache:
    """The seed's ``IntelligentCache`` design: 8 hex chars of md5 over ``str(args)``, no
    module in the key, TTL-only freshness, ``if cached_result:`` as the hit test."""

    PREFIXES: ClassVar[dict[str, str]] = {
        "faturamento": "fat",
        "entregas": "ent",
        "embarques": "emb",
        "dashboards": "dash",
    }
    TTLS: ClassVar[dict[str, int]] = {
        "faturamento": 3600,
        "entregas": 1800,
        "embarques": 900,
        "dashboards": 300,
    }

    def __init__(self) -> None:
        self.store: dict[str, tuple[float, Any]] = {}
        self.hits = 0
        self.misses = 0

    def cached(self, context: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                params = {"func": func.__name__, "args": str(args), "kwargs": str(kwargs)}
                digest = hashlib.md5(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
                key = f"{self.PREFIXES[context]}:{digest}"
                entry = self.store.get(key)
                if entry and entry[0] > time.monotonic() and entry[1]:
                    self.hits += 1
                    return copy.deepcopy(entry[1])
                result = func(*args, **kwargs)
                self.store[key] = (time.monotonic() + self.TTLS[context], copy.deepcopy(result))
                self.misses += 1
                return result

            return wrapper

        return decorator


def build_pages(
    reference: Any,
) -> list[tuple[str, str, Callable[..., Any], Callable[[random.Random], tuple[Any, ...]]]]:
    """(name, context, data function, argument generator) of the cached pages."""
    from fretes.access import optimized as embarques
    from fretes.access import optimized as entregas
    from fretes.access import optimized as relatorios
    from fretes.domain import faturamento, monitoramento, pedidos
    from fretes.domain import fretes as fretes_consulta

    day = reference.isoformat()

    def lista(rng: random.Random) -> tuple[Any, ...]:
        args = {"status": rng.choice(["todas", "pendente", "atrasada", "entregue"]), "hoje": day}
        if rng.random() < 0.3:
            args["uf"] = rng.choice(["SP", "RJ", "MG"])
        args["page"] = str(rng.choice([1, 1, 2]))
        return (monitoramento.parse_filtros(MultiDict(args)), None)

    def dashboard(rng: random.Random) -> tuple[Any, ...]:
        return (rng.choice(["ativo", "ativo", "draft"]), rng.choice([1, 1, 2]))

    def fretes(rng: random.Random) -> tuple[Any, ...]:
        status = rng.choice([None, "PENDENTE", "APROVADO"])
        return (fretes_consulta.parse_filtros(MultiDict({"status": status} if status else {})),)

    def relatorio(rng: random.Random) -> tuple[Any, ...]:
        args = {"dias": str(rng.choice([30, 90])), "ate": day}
        return (faturamento.parse_filtros(MultiDict(args)), None)

    def status(rng: random.Random) -> tuple[Any, ...]:
        args = {"dias": str(rng.choice([30, 90])), "ate": day}
        return (pedidos.parse_filtros(MultiDict(args)),)

    return [
        ("monitoramento/listar", "entregas", entregas.listar_entregas, lista),
        ("embarques/dashboard", "embarques", embarques.dashboard_embarques, dashboard),
        ("fretes/consulta", "embarques", embarques.consultar_fretes, fretes),
        ("faturamento/relatorio", "faturamento", relatorios.relatorio_faturamento, relatorio),
        ("pedidos/status", "dashboards", relatorios.status_pedidos, status),
    ]


def build_writes() -> list[tuple[str, Callable[[random.Random], None]]]:
    """Committed writes through Flask-SQLAlchemy's session, as the app's endpoints make them."""
    from fretes.models import (
        ComentarioNF,
        Embarque,
        EntregaMonitorada,
        Frete,
        LogEntrega,
        RelatorioFaturamentoImportado,
        db,
    )

    def pick(model: Any, rng: random.Random) -> int:
        ids = db.session.scalars(sa.select(model.id).order_by(model.id).limit(200)).all()
        return int(rng.choice(ids))

    def log(rng: random.Random) -> None:
        db.session.add(
            LogEntrega(
                entrega_id=pick(EntregaMonitorada, rng),
                autor="bench",
                descricao="contato",
                tipo="contato",
            )
        )
        db.session.commit()

    def comentario(rng: random.Random) -> None:
        db.session.add(
            ComentarioNF(entrega_id=pick(EntregaMonitorada, rng), texto="bench", autor="bench")
        )
        db.session.commit()

    def entregar(rng: random.Random) -> None:
        entrega = db.session.get(EntregaMonitorada, pick(EntregaMonitorada, rng))
        assert entrega is not None
        entrega.entregue = True
        entrega.status_finalizacao = "Entregue"
        db.session.commit()

    def frete_status(rng: random.Random) -> None:
        frete = db.session.get(Frete, pick(Frete, rng))
        assert frete is not None
        frete.status = rng.choice(["PENDENTE", "APROVADO", "PAGO"])
        db.session.commit()

    def embarque_bulk(rng: random.Random) -> None:
        ident = pick(Embarque, rng)
        db.session.execute(
            sa.update(Embarque)
            .where(Embarque.id == ident)
            .values(status=rng.choice(["ativo", "draft"]))
        )
        db.session.commit()

    def faturamento_raw(rng: random.Random) -> None:
        ident = pick(RelatorioFaturamentoImportado, rng)
        db.session.execute(
            sa.text(
                "UPDATE relatorio_faturamento_importado SET valor_total = valor_total + 1 WHERE id = :id"
            ),
            {"id": ident},
        )
        db.session.commit()

    return [
        ("log (ORM insert)", log),
        ("comentario (ORM insert)", comentario),
        ("entrega entregue (ORM update)", entregar),
        ("frete status (ORM update)", frete_status),
        ("embarque status (ORM bulk update)", embarque_bulk),
        ("faturamento valor (raw SQL)", faturamento_raw),
    ]
