"""One cursor hook per engine the cache is given, nothing on SQLAlchemy's classes.

Counted directly: event listeners on an engine, its pool and the Session class, and the
dialect methods wrapped on it. An engine Turbina was not given carries none of them; one it
was given carries the recorder's wrapper (which the cache subscribes to) and the cache's
commit/rollback wrappers, once, however many requests ran; a part that is off installs
nothing; wrapping chains with another library's wrappers in both directions.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

import turbina
from turbina import MemoryBackend, QueryRecorder, TurbinaCache

from .models import Base, Nota, make_db, total

_ENGINE_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
    "begin",
    "commit",
    "rollback",
    "savepoint",
    "commit_twophase",
    "rollback_twophase",
    "engine_connect",
)
_POOL_EVENTS = ("checkout", "checkin", "reset")  # "connect" holds SQLAlchemy's own
_SESSION_EVENTS = (
    "after_attach",
    "after_begin",
    "after_commit",
    "after_rollback",
    "do_orm_execute",
)
_DIALECT_METHODS = (
    "do_execute",
    "do_execute_no_params",
    "do_executemany",
    "do_commit",
    "do_rollback",
    "do_commit_twophase",
    "do_rollback_twophase",
)


def listeners(engine: sa.Engine) -> int:
    """Event listeners that fire for ``engine`` (its own and its classes')."""
    count = sum(len(list(getattr(engine.dispatch, name))) for name in _ENGINE_EVENTS)
    return count + sum(len(list(getattr(engine.pool.dispatch, name))) for name in _POOL_EVENTS)


def session_class_listeners() -> int:
    """Listeners on SQLAlchemy's Session class itself (they fire for every session)."""
    plain = Session()
    try:
        return sum(len(list(getattr(plain.dispatch, name))) for name in _SESSION_EVENTS[:4])
    finally:
        plain.close()


def tracker_of(engine: sa.Engine) -> Any:
    """The cache's hook object on ``engine``, if installed."""
    return engine.dialect.__dict__.get("_turbina_cache_tracker")


def wrapped(engine: sa.Engine) -> set[str]:
    """Dialect methods replaced on this engine's dialect instance."""
    return {name for name in _DIALECT_METHODS if name in engine.dialect.__dict__}


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        TURBINA_CACHE_CONTEXTS={"faturamento": 60},
        TURBINA_EXPLAIN=False,
    )
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    turbina.Turbina(app)

    @turbina.cached("faturamento", depends_on=[Nota])
    def soma(cliente_id: int) -> str:
        value = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Nota.valor), 0)).where(
                Nota.cliente_id == cliente_id
            )
        )
        return str(Decimal(value).quantize(Decimal("0.01")))

    @app.get("/soma")
    def get_soma() -> str:
        return soma(1)

    with app.app_context():
        db.create_all()
        app.config["engine"] = db.engine
    yield app
    app.extensions["turbina"].cache.close()


def test_nothing_on_an_engine_turbina_was_not_given(app: Flask, tmp_path: Path) -> None:
    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    app.test_client().get("/soma")
    with other.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    assert listeners(other) == 0
    assert wrapped(other) == set()
    assert not other._has_events
    assert session_class_listeners() == 0
    other.dispose()


def test_the_given_engine_has_one_hook_shared_with_the_recorder(app: Flask) -> None:
    engine: sa.Engine = app.config["engine"]
    client = app.test_client()
    for _ in range(3):  # several requests: nothing is installed twice
        assert client.get("/soma").text == "0.00"
    recorder = engine.dialect._turbina_recorder  # type: ignore[attr-defined]
    assert listeners(engine) == 0  # no SQLAlchemy event listener at all
    assert wrapped(engine) == set(_DIALECT_METHODS)
    # The cursor methods are the recorder's own wrappers; the cache subscribed to them.
    assert "QueryRecorder" in engine.dialect.do_execute.__qualname__
    assert len(recorder._subscribers) == 1
    assert tracker_of(engine) is not None
    with engine.begin() as conn:  # and it works: a Core commit invalidates
        conn.execute(sa.text("INSERT INTO c_clientes (id, nome) VALUES (1, 'Ana')"))
        conn.execute(sa.text("INSERT INTO c_notas (cliente_id, valor) VALUES (1, 2.5)"))
    assert client.get("/soma").text == "2.50"


def test_a_part_that_is_off_installs_nothing(sqlite_url: str) -> None:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=sqlite_url, TURBINA_CACHE_BACKEND="null")
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    turbina.Turbina(app)
    with app.app_context():
        engine = db.engine
        db.create_all()
    app.test_client().get("/")
    recorder = engine.dialect._turbina_recorder  # type: ignore[attr-defined]
    assert recorder._subscribers == []
    assert tracker_of(engine) is None
    assert wrapped(engine) == {"do_execute", "do_execute_no_params", "do_executemany"}
    assert listeners(engine) == 0
    assert session_class_listeners() == 0


def _wrap(engine: sa.Engine, name: str, calls: list[str]) -> Any:
    """Another library wrapping a dialect method the way Turbina does."""
    inner = getattr(engine.dialect, name)

    def outer(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return inner(*args, **kwargs)

    setattr(engine.dialect, name, outer)
    return outer


def test_wrapping_chains_with_another_library_in_both_orders(sqlite_url: str) -> None:
    engine, factory = make_db(sqlite_url)
    calls: list[str] = []
    _wrap(engine, "do_commit", calls)  # installed before the cache
    cache = TurbinaCache(MemoryBackend(), {"faturamento": 60})
    cache.track_session_writes(engine)
    later_execute = _wrap(engine, "do_execute", calls)  # installed over the cache's
    later_commit = _wrap(engine, "do_commit", calls)

    @cache.cached("faturamento", depends_on=[Nota])
    def soma(cliente_id: int) -> Decimal:
        return total(factory, cliente_id)

    assert soma(1) == Decimal("15.75")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE c_notas SET valor = 1 WHERE cliente_id = 1"))
    assert soma(1) == Decimal("2.00")  # the bump went through the chain
    assert calls.count("do_commit") == 2  # both libraries' commit wrappers ran, once each

    cache.close()
    # The other library's wrappers are still there and still called; Turbina is gone.
    assert engine.dialect.do_execute is later_execute
    assert engine.dialect.do_commit is later_commit
    calls.clear()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE c_notas SET valor = 3 WHERE cliente_id = 1"))
    assert calls.count("do_commit") == 2 and "do_execute" in calls
    assert tracker_of(engine) is None
    assert listeners(engine) == 0
    engine.dispose()


def test_cache_rewraps_when_the_recorder_it_shared_is_closed(sqlite_url: str) -> None:
    engine, factory = make_db(sqlite_url)
    recorder = QueryRecorder(engine)
    cache = TurbinaCache(MemoryBackend(), {"faturamento": 60})
    cache.track_session_writes(engine)
    assert len(recorder._subscribers) == 1

    @cache.cached("faturamento")
    def soma(cliente_id: int) -> Decimal:
        return total(factory, cliente_id)

    soma(1)
    assert soma(1) == Decimal("15.75")
    recorder.close()  # its wrapper goes; the cache must keep seeing writes
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM c_notas WHERE cliente_id = 1"))
    assert soma(1) == Decimal("0.00")
    cache.close()
    assert wrapped(engine) == set()
    engine.dispose()


def test_engines_created_after_turbina_are_tracked_once_from_the_first_request(
    sqlite_url: str,
) -> None:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        TURBINA_CACHE_CONTEXTS={"faturamento": 60},
        TURBINA_EXPLAIN=False,
    )
    turbina.Turbina(app)  # before Flask-SQLAlchemy: no engine exists yet
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)

    @turbina.cached("faturamento", depends_on=[Nota])
    def conta() -> int:
        return len(db.session.scalars(sa.select(Nota)).all())

    @app.get("/conta")
    def get_conta() -> str:
        return str(conta())

    with app.app_context():
        db.create_all()
        engine = db.engine
    client = app.test_client()
    assert [client.get("/conta").text for _ in range(3)] == ["0", "0", "0"]
    assert tracker_of(engine) is not None
    assert listeners(engine) == 0 and session_class_listeners() == 0
    assert len(engine.dialect._turbina_recorder._subscribers) == 1  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO c_clientes (id, nome) VALUES (1, 'Ana')"))
        conn.execute(sa.text("INSERT INTO c_notas (cliente_id, valor) VALUES (1, 1)"))
    assert client.get("/conta").text == "1"
    app.extensions["turbina"].cache.close()
