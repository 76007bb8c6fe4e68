"""The Flask glue: what one request records, Server-Timing policy, alerts, /metrics, the API."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Response
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column, relationship

import turbina
from turbina.flask.monitor import MonitorState, alert_raised
from turbina.monitor import api
from turbina.monitor.alerts import Alert
from turbina.store.backends.memory import MemoryStore

from .schema import validate


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SECRET = "joana.pereira@example.com.br"


@turbina.cached("pages", depends_on=["m_author"])
def author_email(author_id: int) -> str | None:
    """A cached function (bound to the current app's cache at call time)."""
    return f"{author_id}{SECRET}"


def make_app(tmp_path: Path, **config: Any) -> tuple[Flask, SQLAlchemy]:
    app = Flask("monitor_app", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'app.db'}",
        TURBINA_EXPLAIN=False,
        TURBINA_CACHE_BACKEND="memory",
        TURBINA_FLUSH_INTERVAL_S=3600,  # flushed by the tests themselves
        TURBINA_NPLUSONE_THRESHOLD=3,
        TURBINA_SLOW_QUERY_MS=0,
        TURBINA_CACHE_CONTEXTS={"pages": 60},
        **config,
    )
    db = SQLAlchemy()

    class Author(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "m_author"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str]

    class Book(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "m_book"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(sa.ForeignKey("m_author.id"))
        author: Mapped[Author] = relationship()

    db.init_app(app)
    turbina.Turbina(app)
    with app.app_context():
        db.create_all()
        db.session.add_all(Author(id=i, email=f"{i}{SECRET}") for i in range(5))
        db.session.add_all(Book(id=i, author_id=i % 5) for i in range(10))
        db.session.commit()

    @app.get("/books")
    def books() -> Any:
        return [b.author.email for b in db.session.scalars(sa.select(Book))]  # N+1

    @app.get("/find")
    def find() -> Any:
        rows = db.session.execute(sa.text(f"SELECT id FROM m_author WHERE email = '{SECRET}'"))
        return {"n": len(rows.all())}

    @app.get("/item/<int:item>")
    def item(item: int) -> Any:
        return {"item": item}

    @app.get("/fail")
    def fail() -> Any:
        raise RuntimeError("boom")

    @app.get("/cached")
    @turbina.cached_view("pages", depends_on=["m_author"], per_user=False)
    def cached() -> Any:
        return {"ok": True}

    @app.get("/report/<int:n>")
    def report(n: int) -> Any:
        return {"emails": [author_email(i) for i in range(n)]}

    @app.get("/twice")
    def twice() -> Any:
        return {"emails": [author_email(9), author_email(9)]}

    return app, db


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    flask_app, db = make_app(tmp_path)
    yield flask_app
    _close(flask_app, db)


def _close(app: Flask, db: SQLAlchemy) -> None:
    state = turbina.get_state(app)
    assert state.monitor is not None
    state.monitor.flusher.stop(flush=False)
    state.queries.close()  # type: ignore[union-attr]
    state.cache.close()  # type: ignore[union-attr]
    with app.app_context():
        db.engine.dispose()


def monitor(app: Flask) -> MonitorState:
    state = turbina.get_state(app).monitor
    assert state is not None
    return state


def endpoint_rows(app: Flask) -> dict[tuple[str, str], dict[str, Any]]:
    state = monitor(app)
    assert state.flush()
    data = api.endpoints(state.store.read(time.time() - 300))
    validate(data, api.SCHEMA["endpoints"])
    return {(row["endpoint"], row["method"]): row for row in data["endpoints"]}


def test_a_request_is_recorded_by_url_rule_with_db_and_status(app: Flask) -> None:
    client = app.test_client()
    for i in range(3):
        assert client.get(f"/item/{i}").status_code == 200
    assert client.get("/books").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.post("/item/1").status_code == 405
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/fail").status_code == 500
    rows = endpoint_rows(app)
    assert rows[("/item/<int:item>", "GET")]["calls"] == 3  # never the raw path
    assert rows[("/books", "GET")]["queries_per_request"] == 6  # 1 + one load per author
    assert 0 < rows[("/books", "GET")]["db_share"] <= 1
    assert rows[("<unmatched>", "GET")]["status"]["4xx"] == 1
    assert rows[("<unmatched>", "POST")]["status"]["4xx"] == 1  # 405: no rule matched
    assert rows[("/fail", "GET")]["errors"] == 1 and rows[("/fail", "GET")]["apdex"] == 0.0
    assert not any(endpoint.startswith("/item/1") for endpoint, _m in rows)


def test_an_exception_that_skips_after_request_is_counted_in_teardown(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError):
        app.test_client().get("/fail")
    assert endpoint_rows(app)[("/fail", "GET")]["status"]["5xx"] == 1


def test_the_duration_includes_after_request_handlers(app: Flask) -> None:
    @app.after_request
    def slow_handler(response: Response) -> Response:
        time.sleep(0.05)
        return response

    app.test_client().get("/item/1")
    row = endpoint_rows(app)[("/item/<int:item>", "GET")]
    assert row["mean_ms"] >= 50  # a lower bound: the sleep is inside the measured span


def test_cached_views_count_hits_and_misses(app: Flask) -> None:
    client = app.test_client()
    for _ in range(4):
        client.get("/cached")
    row = endpoint_rows(app)[("/cached", "GET")]
    assert row["cache_misses"] >= 1 and row["cache_hits"] + row["cache_misses"] == 4


def test_cached_functions_count_per_request_on_their_endpoint(app: Flask) -> None:
    client = app.test_client()
    client.get("/report/1")  # author_email(0): a miss
    client.get("/report/1")  # the same call: a hit
    client.get("/twice")  # author_email(9) twice in one request: a miss, then a hit
    client.get("/item/1")  # no cache at all
    rows = endpoint_rows(app)
    report, twice = rows[("/report/<int:n>", "GET")], rows[("/twice", "GET")]
    assert (report["cache_misses"], report["cache_hits"], report["cache_hit_rate"]) == (1, 1, 0.5)
    assert (twice["cache_misses"], twice["cache_hits"]) == (1, 1)
    item = rows[("/item/<int:item>", "GET")]
    assert (item["cache_misses"], item["cache_hits"], item["cache_hit_rate"]) == (0, 0, 0.0)
    # the cache's own counters for the window agree: 2 misses (first sight), 2 hits
    [pages] = [c for c in api.cache(monitor(app).store.read(time.time() - 300))["contexts"]]
    assert (pages["context"], pages["hits"], pages["misses"], pages["miss_first"]) == (
        "pages",
        2,
        2,
        2,
    )
    # outside a request a cached call counts for the cache, for no endpoint
    with app.app_context():
        author_email(0)
    assert sum(r["cache_hits"] for r in endpoint_rows(app).values()) == 2


def test_queries_findings_and_slow_log_reach_the_store_without_literals(
    tmp_path: Path, app: Flask
) -> None:
    client = app.test_client()
    client.get("/books")
    client.get("/books")
    client.get("/find")
    state = monitor(app)
    assert state.flush()
    reading = state.store.read(time.time() - 300)
    findings = api.nplusone(reading)
    validate(findings, api.SCHEMA["nplusone"])
    [finding] = [f for f in findings["findings"] if f["subject"] == "Book.author"]
    assert finding["requests"] == 2 and finding["fix"].startswith("joinedload(")
    queries = api.queries(reading)
    validate(queries, api.SCHEMA["queries"])
    fingerprints = {row["fingerprint"] for row in queries["queries"]}
    assert any("m_author where email = ?" in fp for fp in fingerprints), fingerprints
    slow = api.slow(reading)
    validate(slow, api.SCHEMA["slow"])
    assert slow["slow"]  # TURBINA_SLOW_QUERY_MS=0: every statement is slow
    snapshot = api.queries_snapshot(reading)
    assert snapshot["queries"] == queries["queries"] and snapshot["findings"]
    state.flush()  # nothing new: nothing counted twice
    again = api.nplusone(state.store.read(time.time() - 300))["findings"]
    assert [f["requests"] for f in again if f["subject"] == "Book.author"] == [2]
    # the store file holds no literal
    raw = Path(app.instance_path, "turbina-store.db").read_bytes()
    wal = Path(app.instance_path, "turbina-store.db-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert SECRET.encode() not in raw and b"joana" not in raw


def test_the_default_store_is_a_sqlite_file_in_the_instance_folder(app: Flask) -> None:
    app.test_client().get("/item/1")
    assert monitor(app).flush()
    path = Path(app.instance_path) / "turbina-store.db"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM turbina_counters").fetchone()[0] > 0
    conn.close()


def test_every_api_function_matches_its_schema(app: Flask) -> None:
    client = app.test_client()
    for i in range(5):
        client.get(f"/item/{i}")
        client.get("/cached")
    state = monitor(app)
    state.flush()
    reading = state.store.read(time.time() - 3600)
    for name, data in {
        "overview": api.overview(reading),
        "endpoints": api.endpoints(reading),
        "queries": api.queries(reading),
        "nplusone": api.nplusone(reading),
        "alerts": api.alerts(reading),
        "slow": api.slow(reading),
        "cache": api.cache(reading),
        "system": api.system(reading),
        "endpoint_series": api.endpoint_series(
            state.store, "/item/<int:item>", "GET", time.time() - 600
        ),
    }.items():
        validate(json.loads(json.dumps(data)), api.SCHEMA[name])
    assert api.overview(reading)["requests"]["calls"] == 10
    assert api.system(reading)["workers"][0]["pid"] > 0
    series = api.endpoint_series(state.store, "/item/<int:item>", "GET", time.time() - 600)
    assert sum(p["calls"] for p in series["points"]) == 5
    contexts = {row["context"]: row for row in api.cache(reading)["contexts"]}
    assert contexts["pages"]["hits"] == 4 and contexts["pages"]["misses"] == 1


@pytest.mark.parametrize(
    ("setting", "debug", "header"),
    [("debug", False, False), ("debug", True, True), ("always", False, True), (False, True, False)],
)
def test_server_timing_only_where_allowed(
    tmp_path: Path, setting: Any, debug: bool, header: bool
) -> None:
    app, db = make_app(tmp_path, TURBINA_SERVER_TIMING=setting)
    app.debug = debug
    try:
        assert ("Server-Timing" in app.test_client().get("/item/1").headers) is header
    finally:
        _close(app, db)


def test_server_timing_decided_by_a_callable(tmp_path: Path) -> None:
    app, db = make_app(tmp_path, TURBINA_SERVER_TIMING=lambda r: r.headers.get("X-Staff") == "1")
    try:
        client = app.test_client()
        assert "Server-Timing" not in client.get("/item/1").headers
        assert "Server-Timing" in client.get("/item/1", headers={"X-Staff": "1"}).headers
    finally:
        _close(app, db)


def test_alerts_fixed_and_relative_deduplicated_logged_and_signalled(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    state = monitor(app)
    record = state.requests.record
    received: list[Alert] = []

    def on_alert(sender: Flask, alert: Alert) -> None:
        received.append(alert)

    alert_raised.connect(on_alert, app)
    try:
        for _ in range(3):
            record("/report", "GET", 200, 4000.0)  # over the fixed 3 s: one alert, two dupes
        for _ in range(300):
            record("/list", "GET", 200, 10.0)
        with caplog.at_level(logging.WARNING, logger="turbina.monitor"):
            state.flush()  # learns /list's p99 (~10 ms)
            record("/list", "GET", 200, 15.0)  # under 2 x p99: no alert
            record("/list", "GET", 200, 80.0)  # over: an alert
            record("/list", "GET", 200, 90.0)  # a duplicate
            state.flush()
    finally:
        alert_raised.disconnect(on_alert, app)
    assert [(a.endpoint, a.kind) for a in received] == [("/report", "slow"), ("/list", "p99")]
    assert state.alerts.suppressed == 3
    assert sum("took 4000 ms" in r.getMessage() for r in caplog.records) == 1
    stored = api.alerts(state.store.read(time.time() - 300))
    validate(stored, api.SCHEMA["alerts"])
    assert sorted(a["kind"] for a in stored["alerts"]) == ["p99", "slow"]


def test_metrics_is_closed_without_an_auth_callable(app: Flask) -> None:
    response = app.test_client().get("/metrics")
    assert response.status_code == 403 and b"TURBINA_METRICS_AUTH" in response.data


def test_metrics_reads_the_store_not_this_process(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    app, db = make_app(tmp_path, TURBINA_METRICS_AUTH=lambda r: r.args.get("token") == "t")
    try:
        client = app.test_client()
        for i in range(7):
            client.get(f"/item/{i}")
        assert client.get("/metrics").status_code == 403
        before = client.get("/metrics?token=t").get_data(as_text=True)
        assert 'endpoint="/item/<int:item>"' not in before  # not flushed yet: not in the store
        monitor(app).flush()
        text = client.get("/metrics?token=t").get_data(as_text=True)
        line = 'turbina_http_requests_total{endpoint="/item/<int:item>",method="GET",status_class="2xx"} 7.0'
        assert line in text
        assert (
            'turbina_http_request_duration_seconds_count{endpoint="/item/<int:item>",method="GET"} 7.0'
            in text
        )
        assert 'quantile="0.99"' in text and "turbina_store_up 1.0" in text
        assert "/metrics" not in text.replace("turbina_", "")  # the scrape itself is not counted
    finally:
        _close(app, db)


def test_metrics_on_its_own_bind(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    port = free_port()
    app, db = make_app(tmp_path, TURBINA_METRICS="bind", TURBINA_METRICS_BIND=f"127.0.0.1:{port}")
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 404  # not on the app
        client.get("/item/1")
        state = monitor(app)
        state.flush()  # binds after a flush
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        assert 'endpoint="/item/<int:item>"' in text
        server = state.metrics_server
        server[0].shutdown()
        server[0].server_close()
    finally:
        _close(app, db)


def test_nothing_touches_the_store_on_the_request_path(tmp_path: Path) -> None:
    app, db = make_app(tmp_path, TURBINA_STORE="memory")
    try:
        store = monitor(app).store
        assert isinstance(store, MemoryStore)
        store.fail = True  # a dead store: every write would raise
        client = app.test_client()
        for i in range(20):
            assert client.get(f"/item/{i}").status_code == 200
        assert store.writes == 0
        assert not monitor(app).flush()  # the flush thread is where it fails
    finally:
        _close(app, db)


@pytest.mark.redis
def test_a_dead_redis_store_never_reaches_a_request(tmp_path: Path) -> None:
    calls: list[str] = []
    app, db = make_app(tmp_path, TURBINA_STORE="redis", TURBINA_REDIS_URL="redis://127.0.0.1:1/0")
    try:
        store: Any = monitor(app).store
        connect = store._connect
        store._connect = lambda: calls.append("connect") or connect()
        for i in range(10):
            assert app.test_client().get(f"/item/{i}").status_code == 200
        assert calls == []
        assert not monitor(app).flush() and calls == ["connect"]
    finally:
        _close(app, db)
