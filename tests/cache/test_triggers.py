"""The PostgreSQL trigger bridge end to end: writes from outside the app become stamp bumps.

Real PostgreSQL (a database per test), writes by a real ``psql`` process, the memory and
Redis backends. Waiting is by polling with a generous deadline: a test asserts that an entry
is invalidated, never how fast (the delay is measured in ``bench/cache_triggers``).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup
from flask_sqlalchemy import SQLAlchemy

import turbina
from turbina import TurbinaCache
from turbina.cache.backends.base import CacheBackend
from turbina.cache.scopes import scoped
from turbina.cache.trigger_listener import OwnSessions, TriggerListener
from turbina.cache.triggers import TRIGGER_NAME, TriggerBridge
from turbina.errors import ConfigError
from turbina.flask.cli import main

from .models import Base, Cliente, Nota

pytestmark = pytest.mark.postgres

DEADLINE_S = 15.0  # generous: the machine is shared; the bench measures the real delay


def eventually(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``DEADLINE_S``."""
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE_S} s: {what}")
        time.sleep(0.01)


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE itens (id serial PRIMARY KEY, grupo int, nome text)"))
        conn.execute(
            sa.text(
                "CREATE TABLE notas_item (id serial PRIMARY KEY, "
                "item_id int REFERENCES itens(id) ON DELETE CASCADE, texto text)"
            )
        )
        conn.execute(sa.text("INSERT INTO itens (grupo, nome) VALUES (1, 'a'), (2, 'b')"))
        conn.execute(sa.text("INSERT INTO notas_item (item_id, texto) VALUES (1, 'x')"))
    yield engine
    engine.dispose()


@pytest.fixture
def psql(pg_url: str, service_missing: Callable[[str], None]) -> Callable[[str], None]:
    """Run SQL in a real ``psql`` process: a program the app knows nothing about."""
    binary = shutil.which("psql")
    if binary is None:
        service_missing("the psql client is not installed")
    url = sa.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def run(sql: str) -> None:
        subprocess.run(
            [str(binary), url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True,
            capture_output=True,
            timeout=60,
        )

    return run


@pytest.fixture
def bridge(engine: sa.Engine) -> TriggerBridge:
    made = TriggerBridge(engine)
    made.install(["itens", "notas_item"])
    return made


@pytest.fixture
def cache(backend: CacheBackend, engine: sa.Engine) -> Iterator[TurbinaCache]:
    made = TurbinaCache(backend, {"itens": 600})
    made.track_session_writes(engine)
    yield made
    made.close()


@pytest.fixture
def listener(
    engine: sa.Engine, cache: TurbinaCache, bridge: TriggerBridge
) -> Iterator[TriggerListener]:
    made = TriggerListener.for_engine(engine, cache.commit_seen)
    assert made.start()
    yield made
    made.stop()


def count_of(engine: sa.Engine, table: str = "itens") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.usefixtures("listener")
def test_a_psql_commit_invalidates_a_cached_entry(
    engine: sa.Engine, cache: TurbinaCache, psql: Callable[[str], None]
) -> None:
    @cache.cached("itens", depends_on=["itens"])
    def total() -> int:
        return count_of(engine)

    assert total() == total() == 2
    psql("INSERT INTO itens (grupo, nome) VALUES (1, 'c')")
    eventually(lambda: total() == 3, "the entry reflects psql's INSERT")
    psql("BEGIN; INSERT INTO itens (grupo, nome) VALUES (1, 'rolled back'); ROLLBACK;")
    psql("UPDATE itens SET nome = 'z' WHERE id = 1")  # a later commit, to know the first is in
    eventually(lambda: total() == 3 and cache.stats()["contexts"]["itens"]["hits"] >= 1, "hit")


@pytest.mark.usefixtures("listener")
def test_truncate_and_cascades_from_outside_invalidate(
    engine: sa.Engine, cache: TurbinaCache, psql: Callable[[str], None]
) -> None:
    @cache.cached("itens", depends_on=["notas_item"])
    def notas() -> int:
        return count_of(engine, "notas_item")

    assert notas() == notas() == 1
    psql("DELETE FROM itens WHERE id = 1")  # ON DELETE CASCADE deletes the nota
    eventually(lambda: notas() == 0, "the cascade's delete on notas_item is seen")
    psql("INSERT INTO notas_item (item_id, texto) VALUES (2, 'y')")
    eventually(lambda: notas() == 1, "the INSERT is seen")
    psql("TRUNCATE notas_item")
    eventually(lambda: notas() == 0, "the TRUNCATE is seen")


@pytest.mark.usefixtures("listener")
def test_an_outside_write_invalidates_every_scoped_entry_of_the_table(
    engine: sa.Engine, cache: TurbinaCache, psql: Callable[[str], None]
) -> None:
    @cache.cached("itens", depends_on=[scoped("itens", "grupo", arg="grupo")])
    def nomes(grupo: int) -> list[str]:
        with engine.connect() as conn:
            query = sa.text("SELECT nome FROM itens WHERE grupo = :g ORDER BY id")
            return list(conn.execute(query, {"g": grupo}).scalars())

    assert nomes(1) == nomes(1) == ["a"]
    psql("UPDATE itens SET nome = 'a2' WHERE grupo = 1")  # rows unknown to the app
    eventually(lambda: nomes(1) == ["a2"], "the scoped entry is invalidated")


def test_the_apps_own_commits_are_bumped_twice_and_counted(
    engine: sa.Engine, cache: TurbinaCache, bridge: TriggerBridge
) -> None:
    listener = TriggerListener.for_engine(engine, cache.commit_seen, own=_own(engine))
    assert listener.start()
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO itens (grupo, nome) VALUES (3, 'own')"))
        eventually(lambda: listener.stats()["own"] == 1, "the app's own commit is counted")
        assert listener.stats()["notifications"] == 1
    finally:
        listener.stop()


def _own(engine: sa.Engine) -> OwnSessions:
    own = OwnSessions()
    engine.dispose()  # connections opened from now on are known
    own.watch(engine)
    return own


def test_install_twice_changes_nothing(engine: sa.Engine) -> None:
    bridge = TriggerBridge(engine)
    first = bridge.install(["itens", "public.notas_item"])
    assert (first.done, first.function) == (["public.itens", "public.notas_item"], "created")
    second = bridge.install(["itens", "notas_item", '"itens"'])
    assert (second.done, second.updated, second.function) == ([], [], "unchanged")
    assert second.unchanged == ["public.itens", "public.notas_item"]
    with engine.connect() as conn:
        triggers = conn.execute(
            sa.text("SELECT count(*) FROM pg_trigger WHERE tgname = :n"), {"n": TRIGGER_NAME}
        ).scalar_one()
    assert triggers == 2
    assert [(t.name, t.channel) for t in bridge.status()] == [
        ("public.itens", "turbina_writes"),
        ("public.notas_item", "turbina_writes"),
    ]
    other = TriggerBridge(engine, channel="outro").install(["itens"])
    assert other.updated == ["public.itens"]  # re-created for the new channel


def test_uninstall_removes_everything(engine: sa.Engine) -> None:
    bridge = TriggerBridge(engine)
    bridge.install(["itens", "notas_item"])
    partly = bridge.uninstall(["itens"])
    assert (partly.done, partly.function) == (["public.itens"], "kept")
    rest = bridge.uninstall()
    assert (rest.done, rest.function) == (["public.notas_item"], "removed")
    with engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname = :n), "
                "to_regprocedure('turbina.notify_write()') IS NOT NULL, "
                "(SELECT count(*) FROM pg_namespace WHERE nspname = 'turbina')"
            ),
            {"n": TRIGGER_NAME},
        ).one()
    assert tuple(left) == (0, False, 0)
    assert bridge.uninstall().function == "unchanged"  # nothing to do, no error


def test_a_missing_table_changes_nothing(engine: sa.Engine) -> None:
    bridge = TriggerBridge(engine)
    with pytest.raises(turbina.TurbinaError, match="no table nao_existe"):
        bridge.install(["itens", "nao_existe"])
    assert bridge.status() == [] and not bridge.function_installed()
    assert [(t.name, t.exists) for t in bridge.status(["itens", "nao_existe"])] == [
        ("public.itens", True),
        ("nao_existe", False),
    ]


def test_install_waits_at_most_the_lock_timeout(engine: sa.Engine) -> None:
    bridge = TriggerBridge(engine, lock_timeout_ms=200)
    with engine.connect() as holder:
        holder.execute(sa.text("LOCK TABLE itens IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(turbina.TurbinaError, match="stayed locked longer than 200 ms"):
            bridge.install(["itens"])
        holder.rollback()
    assert bridge.status() == []


def test_reconnect_after_its_backend_is_terminated_bumps_once_and_keeps_working(
    engine: sa.Engine,
    cache: TurbinaCache,
    listener: TriggerListener,
    psql: Callable[[str], None],
) -> None:
    @cache.cached("itens", depends_on=["itens"])
    def total() -> int:
        return count_of(engine)

    assert total() == total() == 2
    before = cache.backend.read_stamps(["t:itens", "t:notas_item"])
    old_pid = listener.backend_pid
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})
    eventually(
        lambda: listener.stats()["resyncs"] == 1 and listener.connected.is_set(),
        "the listener reconnected and bumped the watched tables",
    )
    stats = listener.stats()
    assert (stats["reconnects"], stats["connects"]) == (1, 2)
    assert listener.backend_pid != old_pid
    after = cache.backend.read_stamps(["t:itens", "t:notas_item"])
    assert all(a != b for a, b in zip(after, before, strict=True))  # both watched tables
    assert total() == 2  # recomputed after the resync bump
    psql("INSERT INTO itens (grupo, nome) VALUES (9, 'after')")
    eventually(lambda: total() == 3, "writes after the reconnect are seen")
    assert listener.stats()["resyncs"] == 1


def test_with_a_shared_store_one_listener_is_elected_and_a_standby_takes_over(
    engine: sa.Engine,
    cache: TurbinaCache,
    bridge: TriggerBridge,
    psql: Callable[[str], None],
) -> None:
    @cache.cached("itens", depends_on=["itens"])
    def total() -> int:
        return count_of(engine)

    first = TriggerListener.for_engine(engine, cache.commit_seen, elect="k", min_backoff_s=3.0)
    second = TriggerListener.for_engine(engine, cache.commit_seen, elect="k", standby_s=0.1)
    try:
        assert first.start() and second.start()
        assert (first.role, second.role) == ("listening", "standby")
        assert total() == total() == 2
        psql("INSERT INTO itens (grupo, nome) VALUES (5, 'c')")
        eventually(lambda: total() == 3, "the elected listener bumps")
        assert second.stats()["notifications"] == 0  # standing by: not listening at all
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first.backend_pid})
        eventually(
            lambda: second.role == "listening" and second.stats()["resyncs"] == 1,
            "the standby took over and bumped every watched table once",
        )
        assert second.stats()["takeovers"] == 1
        psql("INSERT INTO itens (grupo, nome) VALUES (5, 'd')")
        eventually(lambda: total() == 4, "the new holder bumps")
        eventually(lambda: first.role == "standby", "the old holder came back as a standby")
    finally:
        first.stop()
        second.stop()


def test_stop_ends_the_thread_and_its_session(engine: sa.Engine, cache: TurbinaCache) -> None:
    listener = TriggerListener.for_engine(engine, cache.commit_seen)
    assert listener.start()
    listener.stop()
    assert not listener.running
    assert not any(t.name.startswith("turbina-listener") for t in threading.enumerate())
    eventually(lambda: _listener_sessions(engine) == 0, "the listener's session ended")


def _listener_sessions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'turbina-listener' AND datname = current_database()"
                )
            ).scalar_one()
        )


def test_a_batch_is_coalesced_and_bounded() -> None:
    delivered: list[set[str]] = []
    listener = TriggerListener({}, delivered.append)

    class Notify:
        def __init__(self, payload: str) -> None:
            self.payload, self.pid = payload, 1

    batch: set[str] = set()
    for payload in ["lotes", "lotes", '"public"."LOTES"', "", "x" * 500]:
        listener._add(batch, Notify(payload), None)
    assert batch == {"lotes"}
    assert listener.stats()["ignored"] == 2
    for i in range(10_001):
        listener._add(batch, Notify(f"t{i}"), None)
    assert batch == {"*"} and listener.stats()["overflows"] == 1


# --- the Flask glue -------------------------------------------------------------------------


def _flask_app(url: str, **config: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url,
        TURBINA_CACHE_CONTEXTS={"faturamento": 600},
        TURBINA_EXPLAIN=False,
        TURBINA_MONITOR=False,
        **config,
    )
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.merge(Cliente(id=1, nome="Ana"))
        db.session.commit()
    turbina.Turbina(app)
    return app, db


def _close(app: Flask) -> None:
    state = app.extensions["turbina"]
    if state.cache_listeners is not None:
        state.cache_listeners.stop()
    if state.cache is not None:
        state.cache.close()
    with app.app_context():
        app.extensions["sqlalchemy"].engines[None].dispose()


def test_nothing_is_installed_when_the_key_is_off(pg_url: str) -> None:
    app, db = _flask_app(pg_url)
    bare = sa.create_engine(pg_url)
    try:
        with app.app_context():
            engine = db.engine
        assert app.extensions["turbina"].cache_listeners is None
        assert not any(t.name.startswith("turbina-listener") for t in threading.enumerate())
        pool_listeners = (len(engine.pool.dispatch.connect), len(engine.pool.dispatch.close))
        assert pool_listeners == (len(bare.pool.dispatch.connect), len(bare.pool.dispatch.close))
        assert _listener_sessions(engine) == 0
    finally:
        bare.dispose()
        _close(app)


def test_the_key_on_sqlite_is_a_one_line_error_naming_it(sqlite_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        _flask_app(sqlite_url, TURBINA_CACHE_LISTEN=True)
    assert "TURBINA_CACHE_LISTEN" in str(info.value) and "PostgreSQL" in str(info.value)
    with pytest.raises(ConfigError, match="TURBINA_CACHE_LISTEN is on but the cache is off"):
        _flask_app(sqlite_url, TURBINA_CACHE_LISTEN=True, TURBINA_CACHE_BACKEND="null")
    with pytest.raises(ConfigError, match="TURBINA_CACHE_CHANNEL"):
        turbina.load_settings({"TURBINA_CACHE_CHANNEL": "Bad-Name"})


@pytest.mark.parametrize("backend_name", ["memory", "redis"])
def test_the_app_listens_when_the_key_is_on(
    pg_url: str,
    psql: Callable[[str], None],
    backend_name: str,
    request: pytest.FixtureRequest,
) -> None:
    config: dict[str, Any] = {"TURBINA_CACHE_LISTEN": True, "TURBINA_CACHE_BACKEND": backend_name}
    if backend_name == "redis":
        config["TURBINA_REDIS_URL"] = request.getfixturevalue("redis_url")
        config["TURBINA_CACHE_PREFIX"] = request.getfixturevalue("redis_prefix")
    app, db = _flask_app(pg_url, **config)
    try:
        runner = CliRunner()
        cli = FlaskGroup(create_app=lambda: app, add_default_commands=False, load_dotenv=False)
        result = runner.invoke(cli, ["turbina", "cache", "install-triggers"])
        assert result.exit_code == 0, result.output
        assert "installed  public.c_clientes" in result.output
        assert "default: 3 installed, 0 updated, 0 already present" in result.output
        again = runner.invoke(cli, ["turbina", "cache", "install-triggers"])
        assert "default: 0 installed, 0 updated, 3 already present" in again.output
        status = runner.invoke(cli, ["turbina", "cache", "triggers"])
        assert "3 of 3 tables notify channel turbina_writes" in status.output, status.output

        @turbina.cached("faturamento", depends_on=[Nota])
        def notas() -> int:
            return int(db.session.scalar(sa.select(sa.func.count()).select_from(Nota)) or 0)

        @app.get("/notas")
        def get_notas() -> str:
            return str(notas())

        client = app.test_client()
        assert client.get("/notas").text == client.get("/notas").text == "0"
        listeners = app.extensions["turbina"].cache_listeners
        assert listeners is not None and listeners.stats()["default"]["connected"]
        psql("INSERT INTO c_notas (cliente_id, valor) VALUES (1, 2.5)")
        eventually(lambda: client.get("/notas").text == "1", "the app sees psql's INSERT")
        removed = runner.invoke(cli, ["turbina", "cache", "uninstall-triggers"])
        assert "default: 3 removed; function turbina.notify_write() removed" in removed.output
    finally:
        _close(app)


def test_a_forked_worker_starts_a_listener_of_its_own(pg_url: str) -> None:
    app, _db = _flask_app(pg_url, TURBINA_CACHE_LISTEN=True)
    listeners = app.extensions["turbina"].cache_listeners
    assert listeners is not None
    inherited = listeners.listeners["default"]
    try:
        assert inherited.running and inherited.role == "listening"
        listeners.pid = -1  # what a child sees after fork(): another pid than its parent's
        app.test_client().get("/")  # its first request
        own = listeners.listeners["default"]
        assert own is not inherited and own.running and own.connected.is_set()
        assert inherited.running  # left alone: in a real child its thread is gone anyway
    finally:
        inherited.stop()
        _close(app)


@pytest.mark.usefixtures("engine")
def test_the_commands_with_a_database_url_need_no_app(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLASK_APP", raising=False)
    assert main(["cache", "install-triggers", "--database-url", pg_url]) == 0
    out = capsys.readouterr().out
    assert "installed  public.itens\ninstalled  public.notas_item\n" in out
    assert main(["cache", "triggers", "--database-url", pg_url]) == 0
    out = capsys.readouterr().out
    assert (
        "2 of 2 tables notify channel turbina_writes; function turbina.notify_write() present"
        in out
    )
    assert main(["cache", "triggers", "--database-url", pg_url, "--channel", "Bad"]) == 1
    assert "TURBINA_CACHE_CHANNEL 'Bad' is not a lower-case identifier" in capsys.readouterr().err
    assert main(["cache", "uninstall-triggers", "itens", "--database-url", pg_url]) == 0
    assert "1 removed; function turbina.notify_write() kept" in capsys.readouterr().out
