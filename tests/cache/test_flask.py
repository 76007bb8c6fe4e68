"""Flask glue: the view decorator never crosses users; install via Turbina(app); CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask_login import LoginManager, UserMixin, login_user

import turbina
from turbina.errors import TurbinaError
from turbina.flask.cache import Cache
from turbina.flask.cli.cache import cache_group


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


renders: list[str] = []


@turbina.cached("user_context", depends_on=[])
def saudacao(nome: str) -> str:
    renders.append(f"saudacao:{nome}")
    return f"Olá, {nome}"


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test",
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_CACHE_CONTEXTS={"dashboards": 60, "user_context": 60},
        TURBINA_STORE="memory",  # `cache stats` reads the store: this app's own
    )
    login = LoginManager(app)
    login.user_loader(User)
    ext = turbina.Turbina(app)
    cache: Cache = app.extensions["turbina"].cache
    renders.clear()

    @app.route("/login/<name>")
    def do_login(name: str) -> str:
        login_user(User(name))
        return "ok"

    @app.route("/pedidos")
    @cache.cached_view("dashboards", depends_on=[])
    def pedidos() -> Any:
        from flask_login import current_user

        renders.append(request.full_path)
        user = current_user.get_id() if current_user.is_authenticated else None
        response = jsonify(user=user, page=request.args.get("page"))
        response.headers["X-Custom"] = "1"
        return response, 201 if request.args.get("created") else 200

    @app.route("/ola/<nome>", methods=["GET", "POST"])
    @turbina.cached_view("dashboards", depends_on=[])
    def ola(nome: str) -> str:
        renders.append(f"ola:{request.method}")
        return saudacao(nome)

    assert ext is not None
    yield app
    cache.close()


def test_view_is_cached_per_user_and_never_crosses_users(app: Flask) -> None:
    ana, bia, anon = app.test_client(), app.test_client(), app.test_client()
    ana.get("/login/ana")
    bia.get("/login/bia")
    first = ana.get("/pedidos?page=2")
    assert first.json == {"user": "ana", "page": "2"}
    assert first.headers["X-Turbina-Cache"] == "MISS"
    again = ana.get("/pedidos?page=2")
    assert again.json == {"user": "ana", "page": "2"}
    assert again.headers["X-Turbina-Cache"] == "HIT"
    assert again.headers["X-Custom"] == "1" and again.headers["Content-Type"] == "application/json"
    assert bia.get("/pedidos?page=2").json == {"user": "bia", "page": "2"}
    assert anon.get("/pedidos?page=2").json == {"user": None, "page": "2"}
    assert ana.get("/pedidos?page=3").json == {"user": "ana", "page": "3"}
    assert renders == ["/pedidos?page=2", "/pedidos?page=2", "/pedidos?page=2", "/pedidos?page=3"]


def test_status_is_cached_and_only_get_is_cached(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/pedidos?created=1").status_code == 201
    hit = client.get("/pedidos?created=1")
    assert hit.status_code == 201
    assert hit.headers["X-Turbina-Cache"] == "BYPASS"  # only 200-like statuses are stored
    client.post("/ola/ze")
    client.post("/ola/ze")
    client.get("/ola/ze")
    client.get("/ola/ze")
    assert renders.count("ola:POST") == 2
    assert renders.count("ola:GET") == 1


def test_module_level_decorators_use_the_app_cache(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/ola/ze").get_data(as_text=True) == "Olá, ze"
    assert client.get("/ola/ze").headers["X-Turbina-Cache"] == "HIT"
    with app.app_context():
        assert saudacao("ze") == "Olá, ze"
    assert renders.count("saudacao:ze") == 1


def test_view_without_login_manager_must_say_how_it_varies() -> None:
    app = Flask(__name__)
    cache = Cache(turbina.cache.MemoryBackend(), {"dashboards": 60})

    @app.route("/x")
    @cache.cached_view("dashboards", depends_on=[])
    def x() -> str:
        return "x"

    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(TurbinaError, match="vary_on"):
        app.test_client().get("/x")


def test_cli_stats_and_invalidate(app: Flask) -> None:
    client = app.test_client()
    client.get("/pedidos")
    client.get("/pedidos")
    runner = app.test_cli_runner()
    result = runner.invoke(cache_group, ["stats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:6] == [
        "context",
        "hit_rate",
        "seen_hit_rate",
        "hits",
        "misses",
        "first",
    ]
    dashboards = next(line for line in lines if line.startswith("dashboards"))
    assert dashboards.split()[1:6] == ["50.00%", "100.00%", "1", "1", "1"]
    assert lines[-1] == "backend: memory  state: ok"
    result = runner.invoke(cache_group, ["invalidate", "dashboards"])
    assert result.output == "invalidated context dashboards\n"
    assert client.get("/pedidos").headers["X-Turbina-Cache"] == "MISS"
    data = json.loads(runner.invoke(cache_group, ["stats", "--json"]).output)
    assert data["contexts"]["dashboards"]["stale_prevented"] == 1
    assert data["contexts"]["dashboards"]["miss_invalidated"] == 1
