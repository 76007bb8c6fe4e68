"""The dashboard through the Flask test client: closed by default, open to the auth
callable, escaped, CSRF-protected, strict headers, and its JSON equal to the monitor's API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import turbina
from turbina.errors import TurbinaError
from turbina.flask.dashboard.blueprint import CSP
from turbina.monitor import api

from .site import EVIL_ALIAS, EVIL_LITERAL, flush, workload

PAGES = ["/", "/endpoints", "/endpoint?endpoint=/posts&method=GET", "/queries", "/cache"]
JSON = [
    "/api/overview",
    "/api/endpoints",
    "/api/endpoint?endpoint=/posts&method=GET",
    "/api/queries",
    "/api/cache",
]
STATIC = ["/static/dashboard.js", "/static/dashboard.css"]


def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.get("/login").status_code == 200
    return client


def confirm_token(client: FlaskClient, context: str) -> str:
    page = client.get(f"/_turbina/cache/invalidate?context={context}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def status(client: FlaskClient, path: str) -> int:
    with client.get(path) as response:  # closes a static file's stream
        return response.status_code


def hits_and_misses(app: Flask) -> tuple[int, int]:
    with app.app_context():
        posts = turbina.cache_stats()["contexts"]["posts"]
    return int(posts["hits"]), int(posts["misses"])


@pytest.mark.parametrize("auth", [None, "absent"])
def test_closed_by_default_every_url_answers_403_saying_how_to_open_it(
    make_app: Callable[..., Flask], auth: str | None
) -> None:
    config: dict[str, Any] = {"TURBINA_DASHBOARD_AUTH": None}
    app = make_app(**config)
    workload(app)
    client = app.test_client() if auth is None else admin(app)  # a session changes nothing
    for path in PAGES + STATIC:
        with client.get("/_turbina" + path) as response:
            assert response.status_code == 403, path
            text = response.get_data(as_text=True)
            assert "TURBINA_DASHBOARD_AUTH" in text and "/posts" not in text, path
    for path in JSON:
        response = client.get("/_turbina" + path)
        assert response.status_code == 403, path
        assert response.json is not None and set(response.json) == {"error", "fix"}
        assert "TURBINA_DASHBOARD_AUTH" in response.json["fix"]
    posted = client.post("/_turbina/cache/invalidate", data={"context": "posts"})
    assert posted.status_code == 403


def test_the_auth_callable_decides_from_the_request(app: Flask) -> None:
    workload(app)
    anonymous = app.test_client()
    assert anonymous.get("/_turbina/").status_code == 403
    assert anonymous.get("/_turbina/api/overview").status_code == 403
    client = admin(app)
    for path in PAGES + JSON + STATIC:
        assert status(client, "/_turbina" + path) == 200, path


def test_a_bad_import_path_fails_at_start(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(TurbinaError) as info:
        make_app(TURBINA_DASHBOARD_AUTH="tests_dashboard_missing.module:nothing")
    assert "TURBINA_DASHBOARD_AUTH" in str(info.value)


def test_an_import_path_is_imported(make_app: Callable[..., Flask]) -> None:
    app = make_app(TURBINA_DASHBOARD_AUTH="operator:truth")  # truth(request) -> True
    assert app.test_client().get("/_turbina/api/cache").status_code == 200


def test_a_raising_auth_callable_denies(make_app: Callable[..., Flask]) -> None:
    def broken(request: Any) -> bool:
        raise RuntimeError("auth backend down")

    app = make_app(TURBINA_DASHBOARD_AUTH=broken)
    assert app.test_client().get("/_turbina/api/overview").status_code == 403


def test_prefix_and_switch(make_app: Callable[..., Flask]) -> None:
    moved = make_app(TURBINA_DASHBOARD_PREFIX="/admin/perf")
    client = admin(moved)
    assert client.get("/admin/perf/api/cache").status_code == 200
    assert client.get("/_turbina/api/cache").status_code == 404
    off = make_app(TURBINA_DASHBOARD=False)
    assert admin(off).get("/_turbina/").status_code == 404


def test_json_is_the_monitor_api_over_the_same_store(app: Flask) -> None:
    workload(app)
    client = admin(app)
    shown = client.get("/_turbina/api/endpoints?window=1h").json
    monitor = turbina.get_state(app).monitor
    assert monitor is not None and shown is not None
    direct = api.endpoints(monitor.store.read(time.time() - 3600))
    assert shown["endpoints"] == direct["endpoints"]
    assert {row["endpoint"] for row in shown["endpoints"]} >= {"/posts", "/evil/<script>"}
    overview = client.get("/_turbina/api/overview").json
    assert overview is not None
    assert overview["tiles"]["p95_ms"] == overview["requests"]["p95_ms"]
    assert overview["tiles"]["cache_hit_rate"] == pytest.approx(2 / 3, abs=1e-4)
    parts = {line["part"]: line for line in overview["health"]}
    assert parts["N+1"]["level"] == "amber"  # /posts lazy-loads Post.author
    assert "5 lazy loads" in parts["N+1"]["threshold"]
    assert parts["latency"]["level"] == "green" and "500 ms" in parts["latency"]["threshold"]
    assert overview["series"]["points"] and overview["series"]["points"][0]["calls"] >= 9


def test_the_endpoint_panel_holds_its_n_plus_one_with_the_loader(app: Flask) -> None:
    workload(app)
    data = admin(app).get("/_turbina/api/endpoint?endpoint=/posts&method=GET&window=1h").json
    assert data is not None and data["row"]["calls"] == 3
    [finding] = data["findings"]
    assert finding["fix"] == "joinedload(Post.author)"
    assert finding["callsite"].startswith("tests/dashboard/site.py:")
    assert any("from author where author.id = ?" in row["sql"] for row in data["slow"])


def test_html_in_endpoints_and_statements_is_escaped_and_literals_redacted(app: Flask) -> None:
    workload(app)
    client = admin(app)
    for path in ("/_turbina/endpoint?endpoint=<script>alert(1)</script>", "/_turbina/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html
    html = client.get("/_turbina/endpoint?endpoint=<script>alert(1)</script>").get_data(
        as_text=True
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    queries = client.get("/_turbina/api/queries?window=1h")
    assert queries.headers["Content-Type"] == "application/json"
    assert queries.headers["X-Content-Type-Options"] == "nosniff"
    body = queries.get_data(as_text=True)
    assert EVIL_ALIAS in body  # an identifier: shown (as text, by the page's script)
    assert EVIL_LITERAL not in body and "__pwned=2" not in body  # a literal: redacted


def test_every_answer_has_the_strict_headers(app: Flask) -> None:
    client = admin(app)
    for path in PAGES + JSON + STATIC:
        with client.get("/_turbina" + path) as response:
            assert response.headers["Content-Security-Policy"] == CSP, path
        assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP
    closed = app.test_client().get("/_turbina/")
    assert closed.headers["Content-Security-Policy"] == CSP
    assert client.get("/_turbina/api/overview").headers["Cache-Control"] == "no-store"
    html = client.get("/_turbina/").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # no inline script or style


def test_bad_parameters_are_400_and_an_unknown_context_404(app: Flask) -> None:
    client = admin(app)
    assert client.get("/_turbina/api/overview?window=7y").status_code == 400
    assert client.get("/_turbina/api/queries?sort=drop").status_code == 400
    missing = client.get("/_turbina/cache/invalidate?context=<b>nope</b>")
    assert missing.status_code == 404 and "<b>nope" not in missing.get_data(as_text=True)


def test_without_the_monitor_the_json_says_why(make_app: Callable[..., Flask]) -> None:
    app = make_app(TURBINA_MONITOR=False)
    response = admin(app).get("/_turbina/api/overview")
    assert response.status_code == 503
    assert response.json is not None and "TURBINA_MONITOR" in response.json["error"]


def test_invalidate_needs_this_sessions_csrf_token_and_then_invalidates(app: Flask) -> None:
    workload(app)
    client = admin(app)
    reader = app.test_client()
    assert reader.get("/titles").status_code == 200
    hits, misses = hits_and_misses(app)
    assert reader.get("/titles").status_code == 200
    assert hits_and_misses(app) == (hits + 1, misses)  # cached

    no_token = client.post("/_turbina/cache/invalidate", data={"context": "posts"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    other = admin(app)  # another admin's session: its token is not this session's
    foreign = client.post(
        "/_turbina/cache/invalidate",
        data={"context": "posts", "csrf_token": confirm_token(other, "posts")},
    )
    assert foreign.status_code == 400
    forged = client.post(
        "/_turbina/cache/invalidate", data={"context": "posts", "csrf_token": "x.y.z"}
    )
    assert forged.status_code == 400
    assert reader.get("/titles").status_code == 200
    assert hits_and_misses(app) == (hits + 2, misses)  # still cached: nothing invalidated

    done = client.post(
        "/_turbina/cache/invalidate",
        data={"context": "posts", "csrf_token": confirm_token(client, "posts")},
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/_turbina/cache?invalidated=posts")
    assert reader.get("/titles").status_code == 200
    assert hits_and_misses(app)[1] == misses + 1  # the next read missed
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Context <code>posts</code> invalidated" in page


def test_the_dashboards_own_requests_are_left_out_of_its_numbers(app: Flask) -> None:
    workload(app)  # 9 requests of the app
    client = admin(app)
    for path in PAGES + JSON:
        assert status(client, "/_turbina" + path) == 200
    flush(app)
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    stored = api.endpoints(monitor.store.read(time.time() - 300))["endpoints"]
    assert any(row["endpoint"].startswith("/_turbina/") for row in stored)  # the monitor saw them
    shown = client.get("/_turbina/api/endpoints").json
    assert shown is not None
    assert not [r for r in shown["endpoints"] if r["endpoint"].startswith("/_turbina")]
    overview = client.get("/_turbina/api/overview").json
    assert overview is not None
    app_calls = sum(r["calls"] for r in shown["endpoints"])
    assert overview["requests"]["calls"] == app_calls == 9 + 1  # the workload and /login
    assert sum(p["calls"] for p in overview["series"]["points"]) == app_calls
