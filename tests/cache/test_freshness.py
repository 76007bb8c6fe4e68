"""Freshness through every write path the contract covers, on SQLite and PostgreSQL.

Each test is one class of fault that once served a value older than a commit that had
returned: a Core commit on a connection left open, racing first computations of recorded
dependencies, computations that run no SQL, writes the database does itself (foreign-key
actions, views), SQL forms not fully parsed, and snapshots older than the stamps.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from turbina import MemoryBackend, TurbinaCache
from turbina.cache.backends.base import CacheBackend, ReadStatus

from .models import Cliente, Nota, make_db, total

CONTEXTS = {"faturamento": 60, "clientes": 60}


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[sa.Engine, sessionmaker[Session]]]:
    engine, factory = make_db(db_url)
    yield engine, factory
    engine.dispose()


@pytest.fixture
def cache(db: tuple[sa.Engine, sessionmaker[Session]]) -> Iterator[TurbinaCache]:
    cache = TurbinaCache(MemoryBackend(), CONTEXTS)
    cache.track_session_writes(db[0])
    yield cache
    cache.close()


def counters(cache: TurbinaCache, context: str = "faturamento") -> dict[str, Any]:
    return cache.stats()["contexts"][context]  # type: ignore[no-any-return]


def warmed(cache: TurbinaCache, func: Any, *args: Any) -> Any:
    """Decorate ``func`` (recorded dependencies) and call it until it is stored."""
    cached = cache.cached("faturamento")(func)
    first = cached(*args)
    assert cached(*args) == first
    assert cached(*args) == first
    assert counters(cache)["hits"] >= 1
    return cached


# --- 1. the commit path -------------------------------------------------------------------


def test_core_commit_on_a_connection_left_open_is_seen_by_other_threads(
    db: Any, cache: TurbinaCache
) -> None:
    engine, factory = db
    soma = warmed(cache, lambda cliente_id: total(factory, cliente_id), 1)
    conn = engine.connect()
    conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
    conn.commit()  # a batch job's commit: the connection stays open, this thread goes quiet
    seen: list[Decimal] = []
    reader = threading.Thread(target=lambda: seen.append(soma(1)))
    reader.start()
    reader.join(10)
    assert seen == [Decimal("2.00")]
    conn.close()


READER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    import redis
    import sqlalchemy as sa
    from turbina import RedisBackend, TurbinaCache

    url, redis_url, prefix = sys.argv[1:4]
    engine = sa.create_engine(url)
    cache = TurbinaCache(RedisBackend(redis.Redis.from_url(redis_url), prefix), {"faturamento": 60})
    cache.track_session_writes(engine)

    @cache.cached("faturamento", depends_on=["c_notas"])
    def soma(cliente_id):
        with engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT coalesce(sum(valor), 0) FROM c_notas WHERE cliente_id = :c"),
                {"c": cliente_id},
            ).scalar_one()
        return str(Decimal(value).quantize(Decimal("0.01")))

    for line in sys.stdin:
        print(soma(int(line)), flush=True)
    """
)


def test_core_commit_on_a_connection_left_open_is_seen_by_other_processes(
    db_url: str, redis_url: str, redis_prefix: str
) -> None:
    import redis

    from turbina import RedisBackend

    engine, _ = make_db(db_url)
    writer = TurbinaCache(RedisBackend(redis.Redis.from_url(redis_url), redis_prefix), CONTEXTS)
    writer.track_session_writes(engine)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, db_url, redis_url, redis_prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdin is not None and reader.stdout is not None

    def ask() -> str:
        reader.stdin.write("1\n")  # type: ignore[union-attr]
        reader.stdin.flush()  # type: ignore[union-attr]
        return reader.stdout.readline().strip()  # type: ignore[union-attr]

    try:
        assert [ask(), ask()] == ["15.75", "15.75"]  # stored by the reader process
        conn = engine.connect()
        conn.execute(sa.text("UPDATE c_notas SET valor = 2 WHERE cliente_id = 1"))
        conn.commit()  # the connection stays open and idle
        assert ask() == "4.00"
        conn.close()
    finally:
        reader.stdin.close()
        reader.wait(10)
        reader.stdout.close()
        writer.close()
        engine.dispose()


def in_another_thread(func: Any, *args: Any) -> Any:
    seen: list[Any] = []
    reader = threading.Thread(target=lambda: seen.append(func(*args)))
    reader.start()
    reader.join(10)
    return seen[0]


def test_a_commit_sent_as_sql_text_bumps_at_once(pg_url: str) -> None:
    engine, factory = make_db(pg_url)
    cache = TurbinaCache(MemoryBackend(), CONTEXTS)
    cache.track_session_writes(engine)
    soma = warmed(cache, lambda cliente_id: total(factory, cliente_id), 1)
    with engine.connect() as conn:
        conn.exec_driver_sql("UPDATE c_notas SET valor = 3 WHERE cliente_id = 1")
        conn.exec_driver_sql("COMMIT")  # a commit SQLAlchemy never hears of
        assert in_another_thread(soma, 1) == Decimal("6.00")
        assert soma(1) == Decimal("6.00")
    cache.close()
    engine.dispose()


# --- 3. recorded dependencies ---------------------------------------------------------------


def test_racing_first_computations_never_store_without_every_stamp(
    db: Any, cache: TurbinaCache
) -> None:
    _, factory = db
    started = {1: threading.Event(), 2: threading.Event()}
    release = {1: threading.Event(), 2: threading.Event()}

    @cache.cached("faturamento")  # recorded: no table is known before the first computation
    def soma(cliente_id: int) -> Decimal:
        value = total(factory, cliente_id)
        started[cliente_id].set()
        release[cliente_id].wait(10)
        return value

    first = threading.Thread(target=soma, args=(1,))
    second = threading.Thread(target=soma, args=(2,))
    first.start()
    assert started[1].wait(10)
    second.start()  # read its stamps before the first one learned "c_notas"
    assert started[2].wait(10)
    release[1].set()
    first.join(10)
    release[2].set()
    second.join(10)
    with factory() as session:
        session.add(Nota(cliente_id=2, valor=Decimal("1.00")))
        session.commit()
    assert soma(2) == Decimal("8.00")


def test_an_entry_lacking_an_expected_stamp_is_not_a_hit(backend: CacheBackend) -> None:
    # Written by a process that did not know the function reads table "a" yet.
    tokens = ["c:ctx"]
    assert backend.write("ctx:k", "ctx", b"old", tokens, backend.read_stamps(tokens), 60)
    status, _ = backend.read("ctx:k", "ctx", ["c:ctx", "t:a"])
    assert status is ReadStatus.STALE


def test_a_computation_that_ran_no_sql_is_not_stored(db: Any, cache: TurbinaCache) -> None:
    _, factory = db
    session = factory()
    loaded = session.get(Cliente, 1)  # the request loaded it before the cached call

    @cache.cached("faturamento")
    def nome(cliente_id: int) -> str:
        return session.get(Cliente, cliente_id).nome  # type: ignore[union-attr]

    assert nome(1) == "Ana"  # from the identity map: no SQL reached the database
    with factory() as other:
        other.get(Cliente, 1).nome = "Ana Maria"  # type: ignore[union-attr]
        other.commit()
    session.expire_all()  # the next request's session sees the database again
    assert nome(1) == "Ana Maria"
    assert counters(cache)["not_stored_unknown_deps"] >= 1
    assert loaded.nome == "Ana Maria"
    session.close()


# --- 5. what the database does by itself ----------------------------------------------------


def _family(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table("f_pais", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "f_filhos",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pai_id", sa.ForeignKey("f_pais.id", ondelete="CASCADE", onupdate="CASCADE")),
    )
    sa.Table(
        "f_netos",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filho_id", sa.ForeignKey("f_filhos.id", ondelete="SET NULL")),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO f_pais (id) VALUES (1), (2)"))
        conn.execute(sa.text("INSERT INTO f_filhos (id, pai_id) VALUES (10, 1), (11, 1), (20, 2)"))
        conn.execute(sa.text("INSERT INTO f_netos (id, filho_id) VALUES (100, 10)"))
    return metadata


@pytest.fixture
def fk_engine(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def foreign_keys_on(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

    yield engine
    engine.dispose()


@pytest.mark.parametrize("source", ["metadata", "catalog"])
def test_foreign_key_cascades_invalidate_the_children(fk_engine: sa.Engine, source: str) -> None:
    metadata = _family(fk_engine)
    cache = TurbinaCache(MemoryBackend(), CONTEXTS)
    if source == "metadata":
        cache.track_session_writes(fk_engine, metadata=[metadata])
    else:  # the foreign keys are known from the database catalog only
        cache.track_session_writes(fk_engine)

    def rows(table: str, column: str) -> list[Any]:
        with fk_engine.connect() as conn:
            return list(conn.execute(sa.text(f"SELECT id, {column} FROM {table} ORDER BY id")))

    filhos = cache.cached("faturamento", depends_on=["f_filhos"])(
        lambda: rows("f_filhos", "pai_id")
    )
    netos = cache.cached("clientes")(lambda: rows("f_netos", "filho_id"))  # recorded
    for _ in range(3):
        filhos()
        netos()
    with fk_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM f_pais WHERE id = 1"))  # the database deletes 10, 11
    assert [tuple(r) for r in filhos()] == [(20, 2)]
    assert [tuple(r) for r in netos()] == [(100, None)]  # ON DELETE SET NULL, two levels down
    cache.close()


@pytest.mark.parametrize("declared", [False, True], ids=["recorded", "depends_on-view"])
def test_reads_through_a_view_follow_its_base_tables(
    db: Any, cache: TurbinaCache, declared: bool
) -> None:
    engine, factory = db
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE VIEW v_totais AS SELECT cliente_id, SUM(valor) AS total "
                "FROM c_notas GROUP BY cliente_id"
            )
        )

    def por_view(cliente_id: int) -> str:
        with engine.connect() as conn:
            value = conn.execute(
                sa.text("SELECT total FROM v_totais WHERE cliente_id = :c"), {"c": cliente_id}
            ).scalar_one()
        return str(Decimal(value).quantize(Decimal("0.01")))

    soma = cache.cached("faturamento", depends_on=["v_totais"] if declared else None)(por_view)
    for _ in range(3):
        assert soma(1) == "15.75"
    with factory() as session:
        session.add(Nota(cliente_id=1, valor=Decimal("1.00")))
        session.commit()
    assert soma(1) == "16.75"


def test_a_typo_in_depends_on_is_refused_naming_it(db: Any, cache: TurbinaCache) -> None:
    from turbina.errors import TurbinaError

    lista = cache.cached("faturamento", depends_on=["c_nota"])(lambda: 1)
    with pytest.raises(TurbinaError, match="'c_nota' \\(did you mean 'c_notas'\\?\\)"):
        lista()


# --- 6. SQL forms (PostgreSQL runs them all) ------------------------------------------------


@pytest.fixture
def pg(pg_url: str) -> Iterator[tuple[sa.Engine, sessionmaker[Session], TurbinaCache]]:
    engine, factory = make_db(pg_url)
    cache = TurbinaCache(MemoryBackend(), CONTEXTS)
    cache.track_session_writes(engine)
    yield engine, factory, cache
    cache.close()
    engine.dispose()


def _clientes(cache: TurbinaCache, factory: sessionmaker[Session]) -> Any:
    @cache.cached("clientes", depends_on=[Cliente])
    def nomes() -> list[str]:
        with factory() as session:
            return list(session.scalars(sa.select(Cliente.nome).order_by(Cliente.id)))

    assert nomes() == nomes() == ["Ana", "Bia"]
    return nomes


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE c_notas, c_clientes",
        "UPDATE c_notas SET valor = 0; UPDATE c_clientes SET nome = 'X'",
        "EXPLAIN ANALYZE UPDATE c_clientes SET nome = 'X'",
        "EXPLAIN (ANALYZE, BUFFERS) UPDATE c_clientes SET nome = 'X'",
    ],
    ids=["truncate-two", "two-statements", "explain-analyze", "explain-options"],
)
def test_every_table_of_every_statement_form_is_bumped(pg: Any, statement: str) -> None:
    engine, factory, cache = pg
    nomes = _clientes(cache, factory)
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    with factory() as session:
        expected = list(session.scalars(sa.select(Cliente.nome).order_by(Cliente.id)))
    assert expected != ["Ana", "Bia"]
    assert nomes() == expected


# --- 8. snapshots older than the stamps -----------------------------------------------------


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_snapshot_older_than_the_stamps_is_not_stored(pg: Any, level: str) -> None:
    engine, factory, cache = pg
    holder: dict[str, Session] = {}

    @cache.cached("faturamento", depends_on=[Nota])
    def soma(cliente_id: int) -> Decimal:
        session = holder["session"]
        value = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Nota.valor), 0)).where(
                Nota.cliente_id == cliente_id
            )
        )
        return Decimal(value).quantize(Decimal("0.01"))

    old = Session(bind=engine.execution_options(isolation_level=level))
    old.execute(sa.select(Cliente.id)).all()  # this transaction's snapshot is taken now
    with factory() as writer:
        writer.add(Nota(cliente_id=1, valor=Decimal("1.00")))
        writer.commit()  # bumped: a fresh computation reads the new stamps
    holder["session"] = old
    assert soma(1) == Decimal("15.75")  # right for that transaction, but older than the stamps
    old.close()
    holder["session"] = factory()
    assert soma(1) == Decimal("16.75")
    assert cache.stats()["contexts"]["faturamento"]["not_stored_snapshot"] == 1
    holder["session"].close()
