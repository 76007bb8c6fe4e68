"""``flask turbina indexes advise`` inside an app: the workload from the store (what the
served app recorded, planned generically), and its report saved where the dashboard's
Indexes page reads it — capped, one report, with the time it ran."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from click_compat import SEPARATE_STDERR
from turbina.errors import TurbinaError
from turbina.flask.cli import turbina_group
from turbina.indexes.generic import bindings, from_fingerprints, numbered, placeholder_count
from turbina.indexes.saved import MAX_REPORT_BYTES, load_report, report_path, save_report
from turbina.indexes.workload import is_select


def _load_site() -> ModuleType:
    """The dashboard tests' app (tests/dashboard/site.py), loaded by its path: this folder is
    not a package."""
    spec = importlib.util.spec_from_file_location("indexes_dashboard_site", SITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # SQLAlchemy resolves the models' annotations through it
    spec.loader.exec_module(module)
    return module


SITE = Path(__file__).parents[1] / "dashboard" / "site.py"
site = _load_site()
create_app, flush = site.create_app, site.flush

ROWS = 3000


def busy_app(instance: Path, **config: Any) -> Flask:
    """The dashboard's test app with enough posts that an index on post.author_id pays. On a
    database file: the site's ``sqlite://`` shares one connection between every thread
    (StaticPool), so the recorder's background EXPLAINs could roll back the advisor's."""
    instance.mkdir(parents=True, exist_ok=True)
    config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{instance / 'busy.db'}")
    app = create_app(str(instance), **config)

    @app.get("/by-author/<int:author>")
    def by_author(author: int) -> Any:
        db = app.extensions["sqlalchemy"]
        rows = db.session.execute(
            sa.text("SELECT id, title FROM post WHERE author_id = :a"), {"a": author}
        ).all()
        return {"n": len(rows)}

    with app.app_context():
        db = app.extensions["sqlalchemy"]
        with db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO post (title, author_id) VALUES (:t, :a)"),
                [{"t": f"p{i}", "a": 10 + i % 500} for i in range(ROWS)],
            )
            conn.execute(sa.text("ANALYZE"))
    client = app.test_client()
    for author in range(40):
        assert client.get(f"/by-author/{author}").status_code == 200
    flush(app)
    return app


def advise(app: Flask, *args: str) -> Any:
    return app.test_cli_runner(**SEPARATE_STDERR).invoke(
        turbina_group, ["indexes", "advise", *args]
    )


def test_advise_takes_the_stores_workload_and_saves_its_report(tmp_path: Path) -> None:
    app = busy_app(tmp_path / "instance")
    before = time.time()
    result = advise(app, "--budget", "10MB")
    assert result.exit_code == 0, result.output
    assert "from the store, last 24h" in result.stderr
    assert "turbina: index: CREATE INDEX" in result.stdout and "post (author_id)" in result.stdout
    path = report_path(app.instance_path)
    assert f"saved the report to {path}" in result.stderr
    saved = load_report(path)
    assert saved is not None and saved["source"] == "the store, last 24h"
    assert before <= saved["ran_at"] <= time.time() and saved["dialect"] == "sqlite"
    [index] = saved["report"]["indexes"]
    assert index["columns"] == ["author_id"] and index["benefit"] > 0
    assert saved["lines"] == result.stdout.splitlines()
    assert "?" in json.dumps(index["queries"]) and ":a" not in json.dumps(saved)
    page = app.test_client()
    page.get("/login")
    html = page.get("/_turbina/indexes").get_data(as_text=True)
    assert 'id="report-meta"' in html and "post (author_id)" in html


def test_no_save_and_the_recorder_option(tmp_path: Path) -> None:
    app = busy_app(tmp_path / "instance")
    result = advise(app, "--no-save", "--format", "sql", "--budget", "10MB")
    assert result.exit_code == 0, result.output
    assert not report_path(app.instance_path).exists()
    assert "CREATE INDEX" in result.stdout
    recorded = advise(app, "--recorder", "--no-save")
    assert recorded.exit_code == 0, recorded.output
    assert "from this process's query recorder" in recorded.stderr


def test_an_empty_store_is_one_line_with_the_fix(tmp_path: Path) -> None:
    app = create_app(str(tmp_path / "instance"))
    result = advise(app, "--window", "5m")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "turbina: error: the store holds no SELECT of this database in the last 5m "
        "(fix: exercise the app first, pass a longer --window, or --workload FILE.sql)"
    ]
    assert not report_path(app.instance_path).exists()


def test_a_bad_window_fails_before_any_database_is_opened(tmp_path: Path) -> None:
    app = create_app(str(tmp_path / "instance"))
    result = advise(app, "--window", "3y")
    assert result.exit_code == 1 and "is not a window" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fingerprints_become_generic_statements() -> None:
    text = 'select "a?b" from t where x = ? and y in (?) limit ?'
    assert placeholder_count(text) == 3
    assert numbered(text) == 'select "a?b" from t where x = $1 and y in ($2) limit $3'
    assert bindings(text) == (None, None, None)
    rows = [
        {"fingerprint": text, "calls": 4, "mean_ms": 2.0},
        {"fingerprint": "insert into t (x) values (?)", "calls": 9, "mean_ms": 1.0},
    ]
    pg = from_fingerprints(rows, "postgresql")
    [query] = pg.queries
    assert query.generic and query.params is None and query.calls == 4
    [lite] = from_fingerprints(rows, "sqlite").queries
    assert lite.params == (None, None, None) and is_select(lite.sql)


def test_the_report_file_is_capped_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "advice.json"
    huge = {
        "indexes": [
            {"ddl": f"CREATE INDEX i{n} ON t (c{n})", "queries": [{"sql": "x" * 500}] * 50}
            for n in range(200)
        ]
    }
    save_report(path, huge, ["line"] * 10, dialect="sqlite", database="d", source="s")
    assert path.stat().st_size <= MAX_REPORT_BYTES
    saved = load_report(path)
    assert saved is not None and saved["truncated"] is True
    assert all(len(i["queries"]) <= 5 for i in saved["report"]["indexes"])
    save_report(path, {"indexes": []}, [], dialect="sqlite", database="d", source="again")
    again = load_report(path)
    assert again is not None and again["source"] == "again" and not again["truncated"]
    assert [p.name for p in tmp_path.iterdir()] == ["advice.json"]  # no temporary left


@pytest.mark.parametrize(
    ("content", "expect"),
    [("{nope", "is not JSON"), ('{"format": 99}', "is not a saved index report")],
)
def test_a_bad_report_file_is_named(tmp_path: Path, content: str, expect: str) -> None:
    path = tmp_path / "advice.json"
    path.write_text(content)
    with pytest.raises(TurbinaError) as info:
        load_report(path)
    assert expect in str(info.value) and str(path) in str(info.value)
    assert "indexes advise" in str(info.value)


def test_an_unwritable_instance_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TurbinaError) as info:
        save_report(blocker / "advice.json", {}, [], dialect="d", database="d", source="s")
    assert "cannot save the report" in str(info.value) and "--no-save" in str(info.value)


def test_a_database_url_beside_the_app_takes_the_stores_workload(tmp_path: Path) -> None:
    """``--database-url`` names another engine than the app's (a copy, a replica): reading the
    app's own engine to compare needs its app context, and the store's rows still apply."""
    app = busy_app(tmp_path / "instance")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    result = advise(app, "--database-url", url, "--budget", "10MB", "--no-save")
    assert result.exit_code == 0, result.output
    assert "from the store, last 24h" in result.stderr
    assert "post (author_id)" in result.stdout
