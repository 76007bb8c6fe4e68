"""Committed writes invalidate, on SQLite and PostgreSQL: ORM flush, bulk, Core, raw SQL;
rollback discards; a session holding uncommitted writes bypasses the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from turbina.cache.backends.memory import MemoryBackend
from turbina.cache.region import TurbinaCache
from turbina.cache.statements import written_tables

from .models import Cliente, Nota, make_db, total


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[sa.Engine, sessionmaker[Session]]]:
    engine, factory = make_db(db_url)
    yield engine, factory
    engine.dispose()


@pytest.fixture
def cache(db: tuple[sa.Engine, sessionmaker[Session]]) -> Iterator[TurbinaCache]:
    engine, factory = db
    cache = TurbinaCache(MemoryBackend(), {"faturamento": 60, "dashboards": 60})
    cache.track_session_writes(engine)  # every commit path of this engine
    cache.track_session_writes(factory)  # its sessions' unflushed changes
    yield cache
    cache.close()


@pytest.fixture
def soma(cache: TurbinaCache, db: tuple[sa.Engine, sessionmaker[Session]]) -> Any:
    """A cached function with recorded dependencies, warmed so that it is stored."""
    _, factory = db
    calls: list[int] = []

    @cache.cached("faturamento")
    def soma(cliente_id: int) -> Decimal:
        calls.append(cliente_id)
        return total(factory, cliente_id)

    soma(1)  # learns c_notas
    soma(1)  # stores
    soma.calls = calls  # type: ignore[attr-defined]
    assert soma(1) == Decimal("15.75") and len(calls) == 2
    return soma


def stays_fresh(soma: Any, expected: str, write: Callable[[], None]) -> None:
    before = len(soma.calls)
    write()
    assert soma(1) == Decimal(expected)
    assert len(soma.calls) == before + 1
    assert soma(1) == Decimal(expected)  # and cached again
    assert len(soma.calls) == before + 1


def test_orm_flush_commit_invalidates(soma: Any, db: Any) -> None:
    _, factory = db

    def write() -> None:
        with factory() as session:
            session.add(Nota(cliente_id=1, valor=Decimal("4.25")))
            session.commit()

    stays_fresh(soma, "20.00", write)


def test_orm_bulk_update_and_delete_invalidate(soma: Any, db: Any) -> None:
    _, factory = db

    def bulk_update() -> None:
        with factory() as session:
            session.execute(
                sa.update(Nota).where(Nota.cliente_id == 1).values(valor=Decimal("1.00"))
            )
            session.commit()

    def bulk_delete() -> None:
        with factory() as session:
            session.execute(sa.delete(Nota).where(Nota.cliente_id == 1))
            session.commit()

    stays_fresh(soma, "2.00", bulk_update)
    stays_fresh(soma, "0.00", bulk_delete)


def test_core_and_raw_sql_writes_invalidate(soma: Any, db: Any) -> None:
    engine, _ = db

    def core_insert() -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(Nota).values(cliente_id=1, valor=Decimal("0.25")))

    def raw_update() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text('UPDATE "c_notas" SET valor = 2 WHERE cliente_id = 1'))
            conn.commit()
            # The same connection stays open: the bump must already have happened.
            assert soma(1) == Decimal("6.00")

    stays_fresh(soma, "16.00", core_insert)
    stays_fresh(soma, "6.00", raw_update)


def test_rollback_discards_the_writes(soma: Any, db: Any) -> None:
    engine, factory = db
    with factory() as session:
        session.add(Nota(cliente_id=1, valor=Decimal("100")))
        session.flush()
        session.rollback()
    with engine.connect() as conn:
        conn.execute(sa.text("DELETE FROM c_notas"))
        conn.rollback()
    assert soma(1) == Decimal("15.75")
    assert len(soma.calls) == 2  # still the cached entry: nothing was committed


def test_session_with_uncommitted_writes_bypasses(soma: Any, db: Any, cache: TurbinaCache) -> None:
    _, factory = db
    with factory() as session:
        session.add(Nota(cliente_id=1, valor=Decimal("1.00")))  # pending, not flushed
        soma(1)
        session.flush()  # flushed, not committed
        soma(1)
        assert len(soma.calls) == 4
        assert cache.stats()["contexts"]["faturamento"]["bypassed"] == 2
        session.commit()
    assert soma(1) == Decimal("16.75")


def test_writes_to_other_tables_do_not_invalidate(soma: Any, db: Any) -> None:
    _, factory = db
    with factory() as session:
        session.add(Cliente(id=3, nome="Caio"))
        session.commit()
    assert soma(1) == Decimal("15.75")
    assert len(soma.calls) == 2


def test_nested_cached_call_adds_its_tables_to_the_outer_entry(
    cache: TurbinaCache, db: Any
) -> None:
    _, factory = db
    calls: list[str] = []

    @cache.cached("faturamento")
    def inner(cliente_id: int) -> Decimal:
        calls.append("inner")
        return total(factory, cliente_id)

    @cache.cached("dashboards")
    def outer() -> list[str]:
        calls.append("outer")
        with factory() as session:
            nomes = list(session.scalars(sa.select(Cliente.nome).order_by(Cliente.id)))
        return [f"{nome}={inner(i + 1)}" for i, nome in enumerate(nomes)]

    outer()
    outer()
    assert outer() == ["Ana=15.75", "Bia=7.00"]
    with factory() as session:
        session.add(Nota(cliente_id=2, valor=Decimal("1.00")))
        session.commit()
    assert outer() == ["Ana=15.75", "Bia=8.00"]


@pytest.mark.parametrize(
    ("statement", "tables"),
    [
        ("SELECT * FROM c_notas", set()),
        ("INSERT INTO c_notas (id) VALUES (1)", {"c_notas"}),
        ('UPDATE "public"."C_Notas" SET x = 1', {"c_notas"}),
        ("DELETE FROM ONLY c_notas WHERE id = 1", {"c_notas"}),
        ("/* turbina */ TRUNCATE TABLE c_notas", {"c_notas"}),
        ("INSERT OR REPLACE INTO c_notas VALUES (1)", {"c_notas"}),
        ("WITH x AS (SELECT 1) UPDATE c_notas SET valor = 0", {"c_notas"}),
        (
            "WITH moved AS (DELETE FROM c_notas RETURNING *) INSERT INTO arquivo SELECT * FROM moved",
            {"c_notas", "arquivo"},
        ),
    ],
)
def test_written_tables(statement: str, tables: set[str]) -> None:
    assert written_tables(statement) == tables


def test_value_computed_with_uncommitted_writes_is_not_stored(cache: TurbinaCache, db: Any) -> None:
    _, factory = db
    session = factory()

    @cache.cached("faturamento", depends_on=[Nota])
    def soma_suja(cliente_id: int) -> Decimal:
        session.add(Nota(cliente_id=cliente_id, valor=Decimal("50")))
        session.flush()  # the computation itself writes, and reads its own dirty row
        return total_in(session, cliente_id)

    assert soma_suja(1) == Decimal("65.75")
    session.rollback()
    session.close()
    with factory() as fresh:
        assert total_in(fresh, 1) == Decimal("15.75")
    assert cache.stats()["contexts"]["faturamento"]["bytes"] == 0  # nothing stored


def total_in(session: Session, cliente_id: int) -> Decimal:
    value = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Nota.valor), 0)).where(Nota.cliente_id == cliente_id)
    )
    return Decimal(value).quantize(Decimal("0.01"))


def test_autocommit_writes_invalidate_at_once(soma: Any, db: Any) -> None:
    engine, _ = db
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn:
        conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
        # Committed by the database already; no commit event will come.
        assert soma(1) == Decimal("2.00")
        conn.rollback()  # a rollback afterwards cannot undo it, nor the bump
    assert soma(1) == Decimal("2.00")
