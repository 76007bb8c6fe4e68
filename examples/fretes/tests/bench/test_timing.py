"""The app reports per-request query count and DB time in a Server-Timing header."""

from __future__ import annotations

from bench.samples import parse_server_timing
from flask import Flask

from fretes.app import create_app
from fretes.models import User, db
from fretes.timing import HEADER


def make_app(url: str) -> Flask:
    app = create_app({"DATABASE_URL": url, "TESTING": True, "TURBINA_SERVER_TIMING": True})
    with app.app_context():
        db.create_all()
        user = User(username="ana", nome="Ana", role="admin")
        user.set_password("pw")
        db.session.add(user)
        db.session.commit()
    return app


def test_server_timing_counts_the_queries_of_each_request(sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    client = app.test_client()
    anonymous = client.get("/login")
    timing = parse_server_timing(anonymous.headers.get(HEADER))
    assert timing is not None and timing.queries == 0 and timing.db_ms == 0.0

    login = client.post("/login", json={"username": "ana", "password": "pw"})
    assert login.status_code == 200
    timing = parse_server_timing(login.headers.get(HEADER))
    assert timing is not None and timing.queries >= 1 and timing.app_ms >= timing.db_ms

    page = client.get("/pedidos/status?format=json")
    assert page.status_code == 200
    first = parse_server_timing(page.headers.get(HEADER))
    assert first is not None and first.queries >= 2  # user load + the page's own queries
    # Counts are per request, not cumulative.
    again = parse_server_timing(client.get("/pedidos/status?format=json").headers.get(HEADER))
    assert again is not None and again.queries == first.queries


def test_error_answers_carry_the_header_too(sqlite_url: str) -> None:
    client = make_app(sqlite_url).test_client()
    client.post("/login", json={"username": "ana", "password": "pw"})
    bad = client.get("/pedidos/status?page=-1&format=json")
    assert bad.status_code == 400
    assert parse_server_timing(bad.headers.get(HEADER)) is not None
