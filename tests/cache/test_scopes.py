"""Scoped stamps: a write invalidates only the entries it can change, never fewer.

A partition (the notas of one cliente, the call's argument) and a row set (the clientes a
page shows, named while computing): an ORM write bumps the scopes of the rows it touches
(old and new values); a Core or raw-SQL write, whose rows are unknown, invalidates every
scoped entry of the table. A randomized mix of both checks every cached answer against a
fresh computation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from turbina import TurbinaCache
from turbina.cache import depends_on_rows, scoped
from turbina.cache.backends.base import CacheBackend

from .models import Cliente, Nota, make_db, total

CONTEXTS = {"faturamento": 60}


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[sa.Engine, sessionmaker[Session]]]:
    engine, factory = make_db(db_url)
    with factory() as session:  # a third cliente, so that there is a row no page shows
        session.add(Cliente(id=3, nome="Caio"))
        session.add(Nota(cliente_id=3, valor=Decimal("1.00")))
        session.commit()
    yield engine, factory
    engine.dispose()


def _cache(backend: CacheBackend, db: Any) -> TurbinaCache:
    engine, factory = db
    cache = TurbinaCache(backend, CONTEXTS)
    cache.track_session_writes(engine)
    cache.track_session_writes(factory)  # the ORM's flushes report the rows they write
    return cache


def hits(cache: TurbinaCache) -> int:
    return int(cache.stats()["contexts"]["faturamento"]["hits"])


def _orm_add(factory: sessionmaker[Session], cliente_id: int, valor: str) -> None:
    with factory() as session:
        session.add(Nota(cliente_id=cliente_id, valor=Decimal(valor)))
        session.commit()


def test_a_partition_is_invalidated_only_by_writes_to_it(backend: CacheBackend, db: Any) -> None:
    engine, factory = db
    cache = _cache(backend, db)

    @cache.cached("faturamento", depends_on=[scoped(Nota.cliente_id, arg="cliente_id")])
    def soma(cliente_id: int) -> Decimal:
        return total(factory, cliente_id)

    assert (soma(1), soma(2)) == (Decimal("15.75"), Decimal("7.00"))
    _orm_add(factory, 2, "1.00")  # a row of cliente 2 only
    before = hits(cache)
    assert soma(1) == Decimal("15.75")
    assert hits(cache) == before + 1  # cliente 1's entry survived the write
    assert soma(2) == Decimal("8.00")
    with factory() as session:  # an ORM update that moves a nota: old and new partitions
        nota = session.scalars(sa.select(Nota).where(Nota.cliente_id == 1)).first()
        assert nota is not None
        nota.cliente_id = 2
        session.commit()
    with factory() as session:
        expected = (total(factory, 1), total(factory, 2))
    assert (soma(1), soma(2)) == expected
    with engine.begin() as conn:  # rows unknown: every partition
        conn.execute(sa.text("UPDATE c_notas SET valor = valor + 1"))
    assert (soma(1), soma(2)) == (total(factory, 1), total(factory, 2))
    cache.close()


def test_a_row_set_is_invalidated_only_by_writes_to_its_rows(
    backend: CacheBackend, db: Any
) -> None:
    engine, factory = db
    cache = _cache(backend, db)

    @cache.cached("faturamento", depends_on=[Cliente, scoped(Nota.cliente_id)])
    def pagina(ids: tuple[int, ...]) -> list[str]:
        with factory() as session:
            shown = list(session.scalars(sa.select(Cliente).where(Cliente.id.in_(ids))))
            depends_on_rows(Nota.cliente_id, [c.id for c in shown])  # the parents it shows
            return [f"{c.nome}={total(factory, c.id)}" for c in shown]

    assert pagina((1, 2)) == pagina((1, 2)) == ["Ana=15.75", "Bia=7.00"]
    _orm_add(factory, 3, "5.00")  # Caio is not on the page
    before = hits(cache)
    assert pagina((1, 2)) == ["Ana=15.75", "Bia=7.00"]
    assert hits(cache) == before + 1
    _orm_add(factory, 2, "1.00")
    assert pagina((1, 2)) == ["Ana=15.75", "Bia=8.00"]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM c_notas WHERE cliente_id = 3"))  # rows unknown
    assert pagina((1, 2)) == ["Ana=15.75", "Bia=8.00"]
    assert pagina((1, 2)) == ["Ana=15.75", "Bia=8.00"]
    cache.close()


def test_a_commit_while_a_row_set_is_computed_refuses_the_store(
    backend: CacheBackend, db: Any
) -> None:
    _, factory = db
    cache = _cache(backend, db)
    calls: list[int] = []

    @cache.cached("faturamento", depends_on=[scoped(Nota.cliente_id)])
    def soma(cliente_id: int) -> Decimal:
        value = total(factory, cliente_id)
        depends_on_rows(Nota.cliente_id, [cliente_id])
        if not calls:  # after the data was read, before the row stamps are read
            _orm_add(factory, cliente_id, "1.00")
        calls.append(cliente_id)
        return value

    assert soma(1) == Decimal("15.75")  # computed before the commit: must not be stored
    assert soma(1) == Decimal("16.75")
    assert soma(1) == Decimal("16.75")
    assert len(calls) == 2
    assert cache.stats()["contexts"]["faturamento"]["not_stored_raced"] == 1
    cache.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_no_stale_read_under_a_mix_of_scoped_and_unscoped_writes(
    backend: CacheBackend, db: Any, seed: int
) -> None:
    engine, factory = db
    cache = _cache(backend, db)
    rng = random.Random(seed)

    def fresh(cliente_id: int) -> Decimal:
        return total(factory, cliente_id)

    soma = cache.cached("faturamento", depends_on=[scoped(Nota.cliente_id, arg="cliente_id")])(
        fresh
    )

    def pagina_fresh(ids: tuple[int, ...]) -> list[str]:
        depends_on_rows(Nota.cliente_id, ids)
        return [str(total(factory, i)) for i in ids]

    pagina = cache.cached("faturamento", depends_on=[scoped(Nota.cliente_id)])(pagina_fresh)
    stale = 0
    for _ in range(150):
        roll = rng.random()
        if roll < 0.15:
            _orm_add(factory, rng.choice([1, 2, 3]), "0.50")
        elif roll < 0.2:
            with factory() as session:  # move a row between partitions
                nota = session.scalars(sa.select(Nota).order_by(sa.func.random())).first()
                if nota is not None:
                    nota.cliente_id = rng.choice([1, 2, 3])
                session.commit()
        elif roll < 0.25:
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE c_notas SET valor = valor + 1 WHERE id % 2 = 0"))
        elif roll < 0.6:
            cliente = rng.choice([1, 2, 3])
            stale += soma(cliente) != fresh(cliente)
        else:
            ids = tuple(sorted(rng.sample([1, 2, 3], 2)))
            stale += pagina(ids) != pagina_fresh(ids)
    assert stale == 0
    assert hits(cache) > 0
    cache.close()


@pytest.mark.parametrize("argument", ["2", 2.0, Decimal("2"), Decimal("2.00")])
def test_a_partition_argument_of_another_type_is_still_invalidated(
    backend: CacheBackend, db: Any, argument: Any
) -> None:
    """The database matches ``cliente_id = '2'`` (SQLite's affinity) or ``= 2.0`` to the rows
    of cliente 2, whose ORM writes report the integer 2: the partition's stamp must be the
    same, or the entry is never invalidated."""
    _engine, factory = db
    cache = _cache(backend, db)

    @cache.cached("faturamento", depends_on=[scoped(Nota.cliente_id, arg="cliente_id")])
    def soma(cliente_id: Any) -> Decimal:
        return total(factory, int(cliente_id))

    assert soma(argument) == Decimal("7.00")
    _orm_add(factory, 2, "1.00")
    assert soma(argument) == Decimal("8.00")
    cache.close()
