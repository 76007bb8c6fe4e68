"""Partitions that watch the columns placing a row, and row sets too large to name.

``scoped(T.grupo, arg="grupo", watch=[T.status])``: an ORM update of a row that changes no
watched column cannot move it in or out of (or within) a result, so only the entries that
*show* that row (``depends_on_rows(T.id, ...)``) are invalidated; inserts, deletes, updates
of a watched or the partition column, and any update of a table whose watched column has an
``onupdate`` default invalidate the partition. Every answer is checked against a fresh read.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from turbina import TurbinaCache, TurbinaError
from turbina.cache import depends_on_all_rows, depends_on_rows, scoped
from turbina.cache.backends.base import CacheBackend
from turbina.cache.scopes import MAX_ROWS


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "w_itens"

    id: Mapped[int] = mapped_column(primary_key=True)
    grupo: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    obs: Mapped[str] = mapped_column(String(40), default="")


class Marcado(Base):
    """A table whose watched column is set by the ORM on every update."""

    __tablename__ = "w_marcados"

    id: Mapped[int] = mapped_column(primary_key=True)
    grupo: Mapped[str] = mapped_column(String(10))
    obs: Mapped[str] = mapped_column(String(40), default="")
    versao: Mapped[int] = mapped_column(default=0, onupdate=sa.text("versao + 1"))


CONTEXTS = {"lista": 60}
WATCH = [Item.status]


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[sa.Engine, sessionmaker[Session]]]:
    engine = sa.create_engine(db_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        session.add_all(
            [
                Item(id=1, grupo="a", status="aberto", obs="um"),
                Item(id=2, grupo="a", status="aberto", obs="dois"),
                Item(id=3, grupo="a", status="fechado", obs="tres"),  # on no "aberto" page
                Item(id=4, grupo="b", status="aberto", obs="quatro"),
                Marcado(id=1, grupo="a"),
                Marcado(id=2, grupo="a"),
            ]
        )
        session.commit()
    yield engine, factory
    Base.metadata.drop_all(engine)
    engine.dispose()


def _cache(backend: CacheBackend, db: Any) -> TurbinaCache:
    engine, factory = db
    cache = TurbinaCache(backend, CONTEXTS)
    cache.track_session_writes(engine)
    cache.track_session_writes(factory)
    return cache


def lookups(cache: TurbinaCache) -> tuple[int, int]:
    found = cache.stats()["contexts"]["lista"]
    return int(found["hits"]), int(found["misses"])


def _abertos(factory: sessionmaker[Session], grupo: str | None) -> list[str]:
    with factory() as session:
        query = sa.select(Item).where(Item.status == "aberto").order_by(Item.id)
        if grupo is not None:
            query = query.where(Item.grupo == grupo)
        shown = list(session.scalars(query))
        depends_on_rows(Item.id, [item.id for item in shown])
        return [f"{item.id}:{item.obs}" for item in shown]


def _update(factory: sessionmaker[Session], item_id: int, **values: Any) -> None:
    with factory() as session:
        item = session.get(Item, item_id)
        assert item is not None
        for name, value in values.items():
            setattr(item, name, value)
        session.commit()


def _served(cache: TurbinaCache, call: Any, *args: Any) -> tuple[Any, bool]:
    before = lookups(cache)
    value = call(*args)
    after = lookups(cache)
    return value, after[0] == before[0] + 1


def test_an_update_of_an_unwatched_column_invalidates_only_the_pages_showing_it(
    backend: CacheBackend, db: Any
) -> None:
    _, factory = db
    cache = _cache(backend, db)
    deps = [scoped(Item.grupo, arg="grupo", watch=WATCH), scoped(Item.id)]

    @cache.cached("lista", depends_on=deps)
    def abertos(grupo: str | None) -> list[str]:
        return _abertos(factory, grupo)

    assert abertos("a") == ["1:um", "2:dois"] and abertos("b") == ["4:quatro"]
    assert abertos(None) == ["1:um", "2:dois", "4:quatro"]
    _update(factory, 3, obs="mudou")  # not shown anywhere, no watched column
    assert _served(cache, abertos, "a") == (["1:um", "2:dois"], True)
    assert _served(cache, abertos, None)[1]
    _update(factory, 2, obs="novo")  # shown on "a" and on every-group pages only
    assert _served(cache, abertos, "b") == (["4:quatro"], True)
    assert _served(cache, abertos, "a") == (["1:um", "2:novo"], False)
    assert _served(cache, abertos, None) == (["1:um", "2:novo", "4:quatro"], False)
    _update(factory, 3, status="aberto")  # a watched column: it joins group a's page
    assert _served(cache, abertos, "b")[1]
    assert _served(cache, abertos, "a") == (["1:um", "2:novo", "3:mudou"], False)
    assert _served(cache, abertos, None)[0] == ["1:um", "2:novo", "3:mudou", "4:quatro"]
    _update(factory, 4, grupo="a")  # the partition column: old and new value
    assert _served(cache, abertos, "b") == ([], False)
    assert _served(cache, abertos, "a")[0] == ["1:um", "2:novo", "3:mudou", "4:quatro"]
    with factory() as session:  # an insert and a delete: whole rows
        session.add(Item(id=5, grupo="b", status="aberto", obs="cinco"))
        session.commit()
    assert _served(cache, abertos, "b") == (["5:cinco"], False)
    with factory() as session:
        session.delete(session.get(Item, 5))
        session.commit()
    assert _served(cache, abertos, "b") == ([], False)
    cache.close()


def test_a_watched_column_with_an_onupdate_default_makes_every_update_count(
    backend: CacheBackend, db: Any
) -> None:
    _, factory = db
    cache = _cache(backend, db)

    @cache.cached("lista", depends_on=[scoped(Marcado.grupo, arg="grupo", watch=[Marcado.versao])])
    def versoes(grupo: str) -> list[int]:
        with factory() as session:
            query = sa.select(Marcado.versao).where(Marcado.grupo == grupo).order_by(Marcado.id)
            return list(session.scalars(query))

    assert versoes("a") == [0, 0]
    with factory() as session:
        row = session.get(Marcado, 2)
        assert row is not None
        row.obs = "x"  # no watched column in the history, but the UPDATE sets versao
        session.commit()
    assert _served(cache, versoes, "a") == ([0, 1], False)
    cache.close()


def test_a_table_wide_watch(backend: CacheBackend, db: Any) -> None:
    _, factory = db
    cache = _cache(backend, db)

    @cache.cached("lista", depends_on=[scoped(Item, watch=WATCH), scoped(Item.id)])
    def todos() -> list[str]:
        return _abertos(factory, None)

    assert todos() == ["1:um", "2:dois", "4:quatro"]
    _update(factory, 3, obs="nada")
    assert _served(cache, todos)[1]
    _update(factory, 3, status="aberto")
    assert _served(cache, todos) == (["1:um", "2:dois", "3:nada", "4:quatro"], False)
    cache.close()


@pytest.mark.parametrize("seed", [3, 4])
def test_no_stale_read_under_mixed_updates_of_watched_and_shown_columns(
    backend: CacheBackend, db: Any, seed: int
) -> None:
    engine, factory = db
    cache = _cache(backend, db)
    rng = random.Random(seed)
    deps = [scoped(Item.grupo, arg="grupo", watch=WATCH), scoped(Item.id)]
    abertos = cache.cached("lista", depends_on=deps)(lambda grupo: _abertos(factory, grupo))
    stale = 0
    next_id = 10
    for _ in range(160):
        roll = rng.random()
        with factory() as session:
            items = list(session.scalars(sa.select(Item)))
        if roll < 0.1 and items:
            _update(factory, rng.choice(items).id, obs=f"o{rng.randint(0, 9)}")
        elif roll < 0.17 and items:
            _update(factory, rng.choice(items).id, status=rng.choice(["aberto", "fechado"]))
        elif roll < 0.22 and items:
            _update(factory, rng.choice(items).id, grupo=rng.choice("abc"))
        elif roll < 0.27:
            with factory() as session:
                session.add(Item(id=next_id, grupo=rng.choice("abc"), status="aberto", obs="n"))
                session.commit()
            next_id += 1
        elif roll < 0.3 and items:
            with factory() as session:
                session.delete(session.get(Item, rng.choice(items).id))
                session.commit()
        elif roll < 0.33:
            with engine.begin() as conn:  # rows unknown
                conn.execute(sa.text("UPDATE w_itens SET obs = 'core' WHERE id % 2 = 0"))
        else:
            grupo = rng.choice(["a", "b", "c", None])
            stale += abertos(grupo) != _abertos(factory, grupo)
    assert stale == 0
    assert lookups(cache)[0] > 0
    cache.close()


def test_too_many_rows_depend_on_the_whole_table_for_that_entry_only(
    backend: CacheBackend, db: Any
) -> None:
    _, factory = db
    cache = _cache(backend, db)

    @cache.cached("lista", depends_on=[scoped(Item.id)])
    def pagina(ids: tuple[int, ...], muitos: bool) -> list[str]:
        with factory() as session:
            shown = list(session.scalars(sa.select(Item).where(Item.id.in_(ids)).order_by(Item.id)))
        if muitos:
            depends_on_rows(Item.id, range(MAX_ROWS + 1))  # past the cap: the whole table
        else:
            depends_on_rows(Item.id, [item.id for item in shown])
        return [item.obs for item in shown]

    @cache.cached("lista", depends_on=[scoped(Item.id)])
    def todas() -> int:
        with factory() as session:
            depends_on_all_rows(Item)
            return len(list(session.scalars(sa.select(Item))))

    assert pagina((1,), True) == ["um"] and pagina((1,), False) == ["um"]
    assert todas() == 4
    _update(factory, 4, obs="outro")  # a row neither page shows
    assert _served(cache, pagina, (1,), False) == (["um"], True)  # still row-scoped
    assert _served(cache, pagina, (1,), True) == (["um"], False)  # the whole table
    assert _served(cache, pagina, (1,), True)[1]  # stored again
    with factory() as session:
        session.add(Item(id=9, grupo="c", status="aberto"))
        session.commit()
    assert _served(cache, todas) == (5, False)
    cache.close()


def test_watch_needs_a_partition_and_columns_of_its_table() -> None:
    with pytest.raises(TurbinaError, match="without arg="):
        scoped(Item.grupo, watch=[Item.status])
    with pytest.raises(TurbinaError, match="not a column of table 'w_itens'"):
        scoped(Item.grupo, arg="grupo", watch=[Marcado.obs])
