"""The Indexes page, the two-window comparison, EXPLAIN on demand and the built assets,
through the Flask test client on the real test app (SQLite, and PostgreSQL when present)."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import turbina
from turbina.assets.compress import decompress
from turbina.errors import TurbinaError
from turbina.flask.dashboard import compare
from turbina.flask.dashboard import explain as explain_module
from turbina.flask.dashboard.assets import CACHE_CONTROL
from turbina.flask.dashboard.blueprint import CSP
from turbina.flask.dashboard.explain import ExplainRefused, explain_fingerprint
from turbina.indexes.saved import report_path, save_report
from turbina.monitor import api
from turbina.store.model import REQUESTS, Batch

from .site import EVIL_LITERAL, create_app, workload
from .test_access import admin

NEW_PAGES = ["/indexes", "/compare", "/compare?span=5m"]
NEW_JSON = ["/api/indexes", "/api/compare", "/api/compare?span=24h"]
POSTS = ["/queries/explain", "/api/explain"]
EVIL_DDL = "CREATE INDEX x ON post (title) /* <script>window.__pwned=3</script> */"


def queries_token(client: FlaskClient) -> str:
    html = client.get("/_turbina/queries").get_data(as_text=True)
    token = html.split('data-csrf="')[1].split('"')[0]
    assert token
    return token


def recorded(app: Flask, prefix: str) -> dict[str, Any]:
    """The first fingerprint of the store starting with ``prefix``."""
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    rows = api.queries(monitor.store.read(time.time() - 3600))["queries"]
    return next(r for r in rows if r["fingerprint"].startswith(prefix))


def built_assets(client: FlaskClient) -> list[str]:
    html = client.get("/_turbina/").get_data(as_text=True)
    return re.findall(r'(?:href|src)="(/_turbina/assets/[^"]+)"', html)


# --- closed by default ------------------------------------------------------------------


def test_every_new_url_is_403_without_auth(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    workload(app)
    opened = admin(app)
    assets = built_assets(opened)
    assert len(assets) == 2
    token = queries_token(opened)
    select = recorded(app, "select author.id")
    anonymous = app.test_client()
    for url in [f"/_turbina{path}" for path in NEW_PAGES + NEW_JSON] + assets:
        with anonymous.get(url) as response:
            assert response.status_code == 403, url
            assert "TURBINA_DASHBOARD_AUTH" in response.get_data(as_text=True), url
            assert response.headers["Content-Security-Policy"] == CSP
    form = {"csrf_token": token, "engine": select["engine"], "fingerprint": select["fingerprint"]}
    for path in POSTS:
        response = anonymous.post("/_turbina" + path, data=form)
        assert response.status_code == 403, path
        assert "SEARCH" not in response.get_data(as_text=True)


def test_the_new_pages_open_for_the_admin_with_the_strict_headers(app: Flask) -> None:
    workload(app)
    client = admin(app)
    for path in NEW_PAGES + NEW_JSON:
        response = client.get("/_turbina" + path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["Cache-Control"] == "no-store"
        if path in NEW_PAGES:  # in the JSON, "/evil/<script>" is data the script shows as text
            assert "<script>" not in response.get_data(as_text=True)


# --- the built assets -------------------------------------------------------------------


def test_assets_are_minified_fingerprinted_precompressed_and_cached_for_good(app: Flask) -> None:
    client = admin(app)
    js, css = sorted(built_assets(client), key=lambda url: url.endswith(".css"))
    assert re.search(r"/dashboard\.[0-9a-f]{16}\.js$", js)
    assert re.search(r"/dashboard\.[0-9a-f]{16}\.css$", css)
    source = (Path(turbina.__file__).parent / "flask/dashboard/static/dashboard.js").read_bytes()
    plain = client.get(js, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert len(plain.data) < 0.8 * len(source)  # minified
    assert plain.headers["Cache-Control"] == CACHE_CONTROL
    assert "Accept-Encoding" in plain.headers["Vary"]
    assert plain.headers["Content-Type"].startswith("text/javascript")
    br = client.get(js, headers={"Accept-Encoding": "gzip, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert decompress(br.data, "br") == plain.data
    gz = client.get(css, headers={"Accept-Encoding": "gzip, br;q=0"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.data) == client.get(css).data  # no Accept-Encoding: identity
    assert client.get("/_turbina/assets/dashboard.0000000000000000.js").status_code == 404
    assert client.get("/_turbina/assets/../blueprint.py").status_code == 404


# --- Indexes ------------------------------------------------------------------------------


def test_without_a_report_the_indexes_page_says_how_to_make_one(app: Flask) -> None:
    html = admin(app).get("/_turbina/indexes").get_data(as_text=True)
    assert 'id="no-report"' in html and "turbina indexes advise" in html
    assert str(report_path(app.instance_path)) in html


def test_a_saved_report_is_shown_escaped_with_its_gains(app: Flask) -> None:
    report = {
        "base_cost": 200.0,
        "final_cost": 50.0,
        "indexes": [
            {
                "ddl": EVIL_DDL,
                "table": "post",
                "size_bytes": 8192,
                "benefit": 150.0,
                "queries": [
                    {"sql": "select * from post where title = ?", "before": 80.0, "after": 2.5}
                ],
            }
        ],
        "drops": [],
        "notes": ["a note with <b>html</b>"],
    }
    path = report_path(app.instance_path)
    save_report(
        path,
        report,
        ["turbina: index: <i>x</i>"],
        dialect="sqlite",
        database="sqlite://",
        source="the store, last 24h",
    )
    client = admin(app)
    html = client.get("/_turbina/indexes").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in html
    assert "<script>window" not in html and "<b>html" not in html and "<i>x" not in html
    assert "75.0 %" in html  # the index saves 150 of 200
    assert "80.00 → 2.50" in html and "the store, last 24h" in html
    data = client.get("/_turbina/api/indexes").json
    assert data is not None
    assert data["report"]["indexes"][0]["gain"] == 0.75 and data["report"]["total_gain"] == 0.75
    assert data["report"]["indexes"][0]["ddl"] == EVIL_DDL  # JSON carries it as data


def test_a_corrupt_report_file_is_named_with_the_fix(app: Flask) -> None:
    path = report_path(app.instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    html = admin(app).get("/_turbina/indexes").get_data(as_text=True)
    assert "is not JSON" in html and "turbina indexes advise" in html


def test_sqlite_duplicates_are_shown_and_what_sqlite_cannot_tell_is_said(app: Flask) -> None:
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE INDEX ix_post_title ON post (title)"))
            conn.execute(sa.text("CREATE INDEX ix_post_title_again ON post (title)"))
    data = admin(app).get("/_turbina/api/indexes").json
    assert data is not None
    [engine_panel] = data["engines"]
    assert engine_panel["dialect"] == "sqlite" and engine_panel["evidence"] is None
    [drop] = engine_panel["drops"]
    assert drop["kind"] == "duplicate" and drop["name"] == "ix_post_title_again"
    assert drop["ddl"] == "DROP INDEX IF EXISTS ix_post_title_again"
    assert any("SQLite keeps no scan counts" in note for note in engine_panel["notes"])


def test_postgresql_invalid_and_scan_counts_since_the_reset(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=pg_url)
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("UPDATE post SET title = 'same'"))
            with pytest.raises(sa.exc.DBAPIError):  # leaves an INVALID index behind
                conn.execute(sa.text("CREATE UNIQUE INDEX CONCURRENTLY ix_bad ON post (title)"))
    client = admin(app)
    data = client.get("/_turbina/api/indexes").json
    assert data is not None
    [panel] = data["engines"]
    assert panel["dialect"] == "postgresql" and panel["error"] is None
    assert {(d["kind"], d["name"]) for d in panel["drops"]} >= {("invalid", "ix_bad")}
    evidence = panel["evidence"]
    by_name = {row["index"]: row for row in evidence["indexes"]}
    assert by_name["ix_bad"]["valid"] is False and by_name["ix_bad"]["scans"] == 0
    assert "post_pkey" in by_name
    assert "stats_reset" in evidence and "stats_age_days" in evidence
    html = client.get("/_turbina/indexes").get_data(as_text=True)
    assert "INVALID" in html and "Scan counts since" in html
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


# --- Two windows --------------------------------------------------------------------------


def _copy_requests_back(app: Flask, seconds: float) -> None:
    """Write the store's request counters again, ``seconds`` earlier (a real batch into the
    real store: the "before" window of a deploy)."""
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    reading = monitor.store.read(time.time() - 300, kinds=(REQUESTS,), events=())
    batch = Batch(at=time.time() - seconds, worker="earlier")
    for label, info, fields in reading.of_kind(REQUESTS):
        batch.add(REQUESTS, label, {k: 2 * v for k, v in fields.items()})
        batch.describe(REQUESTS, label, info)
    monitor.store.write([batch])


def test_the_comparison_is_each_windows_own_reading_side_by_side(app: Flask) -> None:
    workload(app)
    _copy_requests_back(app, 3600 + 120)  # inside the hour before the last one
    client = admin(app)
    data = client.get("/_turbina/api/compare?span=1h").json
    assert data is not None
    monitor = turbina.get_state(app).monitor
    assert monitor is not None
    for side in ("before", "after"):
        span = data[side]
        reading = monitor.store.read(
            span["since"], min(span["until"] - 0.001, time.time()), resolution=span["resolution_s"]
        )
        direct = {(r["endpoint"], r["method"]): r for r in api.endpoints(reading)["endpoints"]}
        shown = {(r["endpoint"], r["method"]): r[side] for r in data["endpoints"] if r[side]}
        assert shown == {
            key: {k: row[k] for k in compare.COMPARED}
            for key, row in direct.items()
            if not key[0].startswith("/_turbina")
        }
    assert data["before"]["until"] == data["after"]["since"]  # adjacent, not overlapping
    posts = next(r for r in data["endpoints"] if r["endpoint"] == "/posts")
    assert posts["before"]["calls"] == 2 * posts["after"]["calls"] == 6
    assert posts["ratio"]["p95_ms"] == pytest.approx(
        posts["after"]["p95_ms"] / posts["before"]["p95_ms"], abs=1e-4
    )
    assert not [r for r in data["endpoints"] if r["endpoint"].startswith("/_turbina")]


def test_explicit_ranges_and_their_bad_input(app: Flask) -> None:
    workload(app)
    client = admin(app)
    now = time.time()

    def iso(at: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))

    ok = client.get(
        f"/_turbina/api/compare?before={iso(now - 7200)}/{iso(now - 3700)}&after={iso(now - 300)}/{iso(now + 60)}"
    )
    assert ok.status_code == 200 and ok.json is not None
    assert [r["after"]["calls"] for r in ok.json["endpoints"] if r["endpoint"] == "/posts"] == [3]
    bad = {
        "before=yesterday/today&after=2026-12-01T10:00/2026-12-01T11:00": "is not a time",
        f"before={iso(now - 600)}/{iso(now - 900)}&after={iso(now - 300)}/{iso(now)}": "ends before it starts",
        f"before={iso(now - 600)}/{iso(now - 60)}&after={iso(now - 300)}/{iso(now)}": "overlap",
        f"before={iso(now - 600)}/{iso(now - 300)}": "pass both before and after",
        f"before={iso(now - 90 * 3600)}/{iso(now - 80 * 3600)}&after={iso(now - 300)}/{iso(now)}": "reaches past",
        "span=7y": "span must be one of",
    }
    for params, expect in bad.items():
        response = client.get(f"/_turbina/api/compare?{params}")
        assert response.status_code == 400, params
        assert response.json is not None and expect in response.json["error"], params
    assert client.get("/_turbina/compare?span=7y").status_code == 400


# --- EXPLAIN on demand ----------------------------------------------------------------------


def _explain(
    client: FlaskClient, row: dict[str, Any], token: str | None, path: str = "/api/explain"
) -> Any:
    form = {"engine": row["engine"], "fingerprint": row["fingerprint"]}
    if token is not None:
        form["csrf_token"] = token
    return client.post("/_turbina" + path, data=form)


def test_explain_plans_a_recorded_select_on_sqlite_without_its_literal(app: Flask) -> None:
    workload(app)
    client = admin(app)
    token = queries_token(client)
    row = recorded(app, "select author.id")
    answer = _explain(client, row, token)
    assert answer.status_code == 200 and answer.json is not None
    assert answer.json["dialect"] == "sqlite" and answer.json["parameters"] == 1
    assert any("USING INTEGER PRIMARY KEY" in line for line in answer.json["plan"])
    evil = recorded(app, "select ? as")  # the statement whose literal held <script>
    page = _explain(client, evil, token, "/queries/explain")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="explain-plan"' in html
    assert EVIL_LITERAL not in html and "__pwned=2" not in html
    assert "&lt;img src=x onerror" in html  # the quoted alias, escaped


def test_explain_refuses_anything_but_a_select_and_a_missing_or_foreign_token(app: Flask) -> None:
    workload(app)
    client = admin(app)
    token = queries_token(client)
    row = recorded(app, "select author.id")
    assert _explain(client, row, None).status_code == 400
    assert "CSRF" in _explain(client, row, None, "/queries/explain").get_data(as_text=True)
    assert _explain(client, row, "x.y.z").status_code == 400
    other = admin(app)
    assert _explain(client, row, queries_token(other)).status_code == 400
    assert (
        client.post(  # the token in a header works for fetch
            "/_turbina/api/explain",
            data={"engine": row["engine"], "fingerprint": row["fingerprint"]},
            headers={"X-CSRF-Token": token},
        ).status_code
        == 200
    )
    insert = recorded(app, "insert into post")
    refused = _explain(client, insert, token)
    assert refused.status_code == 400 and refused.json is not None
    assert "only a single read-only SELECT" in refused.json["error"]
    typed = {**row, "fingerprint": "select * from post; delete from post"}
    assert _explain(client, typed, token).status_code == 404  # never recorded: not planned
    unknown_engine = {**row, "engine": "elsewhere"}
    assert _explain(client, unknown_engine, token).status_code == 404


def test_explain_on_postgresql_uses_a_generic_plan_read_only(
    make_app: Callable[..., Flask], pg_url: str
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=pg_url, TURBINA_EXPLAIN=False)
    client = admin(app)
    workload(app)
    token = queries_token(client)
    row = recorded(app, "select author.id")
    answer = _explain(client, row, token)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    data = answer.json
    assert data is not None and data["dialect"] == "postgresql"
    plan = "\n".join(data["plan"])
    assert "on author" in plan and "(id = ?)" in plan  # planned with a parameter, not a value
    evil = recorded(app, "select ? as")
    html = _explain(client, evil, token, "/queries/explain").get_data(as_text=True)
    assert EVIL_LITERAL not in html and "__pwned=2" not in html
    with app.app_context():  # nothing left prepared or changed on the pooled connections
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect() as conn:
            assert (
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'turbina_generic_%'"
                    )
                ).scalar()
                == 0
            )
            assert conn.execute(sa.text("SHOW plan_cache_mode")).scalar() == "auto"
            assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "off"
        engine.dispose()


def test_one_explain_at_a_time_and_only_selects(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    plan = explain_fingerprint(engine, "select v from t where id = ?")
    assert plan["plan"] == ["SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"]
    # another EXPLAIN is running in this process:
    with explain_module._running, pytest.raises(ExplainRefused) as busy:
        explain_fingerprint(engine, "select v from t where id = ?")
    assert busy.value.status == 429
    for text in ("delete from t", "select v from t; delete from t", "select v from t for update"):
        with pytest.raises(ExplainRefused) as refused:
            explain_fingerprint(engine, text)
        assert refused.value.status == 400, text
    with pytest.raises(TurbinaError) as failed:
        explain_fingerprint(engine, "select nope from t where v = ?")
    assert "could not plan it" in str(failed.value)
    engine.dispose()


def test_explain_on_an_autocommit_postgresql_engine_is_still_read_only(pg_url: str) -> None:
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    plan = explain_fingerprint(engine, "select relname from pg_class where oid = ?")
    assert any("pg_class" in line for line in plan["plan"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "off"
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "0"
    engine.dispose()


def test_without_a_writable_instance_folder_the_plain_files_are_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "instance"
    blocker.write_text("a file where the instance folder should be")
    app = create_app(str(blocker))
    client = admin(app)
    with caplog.at_level("WARNING", logger="turbina.dashboard"):
        html = client.get("/_turbina/").get_data(as_text=True)
    assert 'src="/_turbina/static/dashboard.js" async' in html
    assert 'href="/_turbina/static/dashboard.css"' in html
    assert any("unminified" in r.getMessage() for r in caplog.records)
    with client.get("/_turbina/static/dashboard.js") as response:
        assert response.status_code == 200
