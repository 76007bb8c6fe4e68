"""What the cache refuses, and what never turns a working call into a failure.

- ``cached_view`` never stores a response when the view changed the Flask session (its
  cookie is set after the view returns) or read a visitor's own session data;
- closures and lambdas with one qualified name get distinct keys;
- a value the codec cannot store (a lone surrogate: stored exactly; nesting too deep: not
  stored) is returned as computed, and counted;
- a TTL that is not positive, a context name the configuration cannot hold, a Redis URL
  without a scheme and an undeclared context are refused with errors that name them;
- two apps on different databases sharing one Redis prefix are warned about.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, flash, get_flashed_messages, session
from flask_login import LoginManager, UserMixin

import turbina
from turbina import MemoryBackend, TurbinaCache
from turbina.errors import ConfigError, TurbinaError


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test",
        TURBINA_CACHE_CONTEXTS={"pages": 60},
        TURBINA_EXPLAIN=False,
    )
    LoginManager(app).user_loader(User)
    turbina.Turbina(app)

    @app.get("/form")
    @turbina.cached_view("pages", depends_on=[])
    def form() -> str:
        token = session.setdefault("csrf", secrets.token_hex(8))  # a new session gets one
        return f'<input name="csrf" value="{token}">'

    @app.get("/save")
    def save() -> str:
        flash("saved")
        return "ok"

    @app.get("/home")
    @turbina.cached_view("pages", depends_on=[])
    def home() -> str:
        return "home " + ",".join(get_flashed_messages())

    @app.get("/cart")
    @turbina.cached_view("pages", depends_on=[])
    def cart() -> str:
        return "cart " + str(session.get("cart", []))

    yield app
    app.extensions["turbina"].cache.close()


def _token(text: str) -> str:
    return text.split('value="')[1].split('"')[0]


def test_a_view_that_writes_the_session_is_never_stored(app: Flask) -> None:
    ana, bia = app.test_client(), app.test_client()
    first = ana.get("/form")
    assert first.headers["X-Turbina-Cache"] == "BYPASS"
    second = bia.get("/form")
    assert _token(second.text) != _token(first.text)  # one visitor's CSRF token, never another's
    cookie = bia.get_cookie("session")
    assert cookie is not None  # and bia's own token is in bia's own session


def test_flashed_messages_are_not_replayed(app: Flask) -> None:
    ana, bia = app.test_client(), app.test_client()
    assert bia.get("/home").text == "home "  # an empty session: stored
    ana.get("/save")
    assert ana.get("/home").text == "home saved"  # popped from ana's session: not stored
    assert bia.get("/home").text == "home "
    assert ana.get("/home").text == "home "


def test_a_view_reading_a_visitors_session_data_is_not_shared(app: Flask) -> None:
    ana, bia = app.test_client(), app.test_client()
    with ana.session_transaction() as data:
        data["cart"] = ["nf-1"]
    assert ana.get("/cart").text == "cart ['nf-1']"
    assert bia.get("/cart").text == "cart []"
    assert bia.get("/cart").headers["X-Turbina-Cache"] == "HIT"  # an empty session is shared


# --- closures ----------------------------------------------------------------------------


def test_closures_and_lambdas_with_one_qualified_name_do_not_share_entries() -> None:
    cache = TurbinaCache(MemoryBackend(), {"c": 60})

    def factory(n: int) -> Any:
        @cache.cached("c", depends_on=[])
        def times(x: int) -> int:
            return n * x

        return times

    assert factory(1)(7) == 7
    assert factory(2)(7) == 14
    assert factory(1)(7) == 7  # the same closed-over value: the same key, a hit
    assert cache.stats()["contexts"]["c"]["hits"] == 1
    plus_one = cache.cached("c", depends_on=[])(lambda x: x + 1)
    plus_two = cache.cached("c", depends_on=[])(lambda x: x + 2)
    assert (plus_one(1), plus_two(1)) == (2, 3)

    def configured(settings: dict[str, int]) -> Any:
        return cache.cached("c", depends_on=[])(lambda x: settings["k"] * x)

    assert configured({"k": 3})(2) == 6
    assert configured({"k": 5})(2) == 10  # a mutable closure: keyed per closure object


# --- values the codec cannot store ----------------------------------------------------------


def test_values_the_codec_cannot_store_fail_open() -> None:
    cache = TurbinaCache(MemoryBackend(), {"c": 60})
    produced: list[Any] = []

    @cache.cached("c", depends_on=[])
    def surrogate() -> str:
        produced.append("nota \ud800 fiscal")  # a lone surrogate from a bad decode upstream
        return produced[-1]

    @cache.cached("c", depends_on=[])
    def deep() -> list[Any]:
        value: list[Any] = []
        for _ in range(5000):
            value = [value]
        produced.append(value)
        return value

    assert surrogate() == "nota \ud800 fiscal"
    assert surrogate() == "nota \ud800 fiscal"  # stored exactly, and read back exactly
    assert len(produced) == 1
    first = deep()
    assert first is produced[-1]
    assert deep() is produced[-1]  # computed again: it could not be stored
    counters = cache.stats()["contexts"]["c"]
    assert counters["not_stored_encode"] == 2 and counters["errors"] == 2


# --- refused with a message that names what is wrong -----------------------------------------


@pytest.mark.parametrize("ttl", [-5, 0, 1.5, True])
def test_a_ttl_that_is_not_a_positive_whole_number_is_refused(ttl: Any) -> None:
    cache = TurbinaCache(MemoryBackend(), {"c": 60})
    with pytest.raises(TurbinaError, match="invalid cache ttl"):
        cache.cached("c", ttl=ttl)
    with pytest.raises(TurbinaError, match="invalid cache ttl"):
        turbina.cached("c", ttl=ttl)  # at decoration time, before any app exists


def test_an_undeclared_context_is_refused_naming_it() -> None:
    cache = TurbinaCache(MemoryBackend(), {"reports": 60})
    with pytest.raises(TurbinaError, match="'report' \\(did you mean 'reports'\\?\\)"):
        cache.cached("report", depends_on=[])
    assert cache.cached("adhoc", depends_on=[], ttl=5)(lambda: 1)() == 1  # ttl= declares it


def test_an_undeclared_context_in_an_app_names_the_setting(app: Flask) -> None:
    @turbina.cached("pagez", depends_on=[])
    def page() -> int:
        return 1

    with app.app_context(), pytest.raises(TurbinaError) as info:
        page()
    assert "'pagez' (did you mean 'pages'?)" in str(info.value)
    assert "TURBINA_CACHE_CONTEXTS" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"TURBINA_CACHE_CONTEXTS": {"bad name": 10}}, "TURBINA_CACHE_CONTEXTS"),
        ({"TURBINA_CACHE_CONTEXTS": "ok=10,bad name=5"}, "TURBINA_CACHE_CONTEXTS"),
        (
            {"TURBINA_CACHE_BACKEND": "redis", "TURBINA_REDIS_URL": "localhost:6379"},
            "TURBINA_REDIS_URL",
        ),
        ({"TURBINA_CACHE_BACKEND": "redis", "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
    ],
)
def test_bad_cache_settings_name_the_key(config: dict[str, Any], named: str) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(ConfigError) as info:
        turbina.Turbina(app)
    assert named in str(info.value)


def test_two_apps_on_other_databases_sharing_a_prefix_are_warned(
    redis_url: str, redis_prefix: str, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from flask_sqlalchemy import SQLAlchemy

    caches = []
    for name in ("a", "b"):
        app = Flask(name)
        app.config.update(
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / name}.db",
            TURBINA_CACHE_BACKEND="redis",
            TURBINA_REDIS_URL=redis_url,
            TURBINA_CACHE_PREFIX=redis_prefix,
            TURBINA_EXPLAIN=False,
        )
        SQLAlchemy(app)
        with caplog.at_level(logging.WARNING, logger="turbina.cache"):
            turbina.Turbina(app)
        caches.append(app.extensions["turbina"].cache)
    assert caches[0].stats()["warnings"] == []
    warnings = caches[1].stats()["warnings"]
    assert len(warnings) == 1 and redis_prefix in warnings[0] and "a.db" in warnings[0]
    assert any("own prefix" in record.getMessage() for record in caplog.records)
    for cache in caches:
        cache.close()


def test_a_cached_view_follows_the_logged_in_users_own_row(sqlite_url: str) -> None:
    """The page shows ``current_user.nome``, loaded before the view runs: the entry depends
    on the user's table, so renaming the user re-renders the page."""
    from flask_login import current_user, login_user
    from flask_sqlalchemy import SQLAlchemy

    from .models import Base, Conta

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test",
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        TURBINA_CACHE_CONTEXTS={"pages": 60},
        TURBINA_EXPLAIN=False,
    )
    db = SQLAlchemy(model_class=Base)
    db.init_app(app)
    login = LoginManager(app)
    login.user_loader(lambda user_id: db.session.get(Conta, int(user_id)))
    turbina.Turbina(app)

    @app.get("/entrar")
    def entrar() -> str:
        login_user(db.session.get(Conta, 1))
        return "ok"

    @app.get("/perfil")
    @turbina.cached_view("pages", depends_on=[])
    def perfil() -> str:
        return f"Olá, {current_user.nome}"

    with app.app_context():
        db.create_all()
        db.session.add(Conta(id=1, nome="Ana"))
        db.session.commit()
    client = app.test_client()
    client.get("/entrar")
    assert [client.get("/perfil").text for _ in range(3)] == ["Olá, Ana"] * 3
    with app.app_context():
        db.session.get(Conta, 1).nome = "Ana Maria"  # type: ignore[union-attr]
        db.session.commit()
    assert client.get("/perfil").text == "Olá, Ana Maria"
    app.extensions["turbina"].cache.close()
