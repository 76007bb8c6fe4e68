"""Flask glue: every bind recorded, per-request data, Server-Timing, findings, CLI output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from click_compat import SEPARATE_STDERR
from turbina import Turbina
from turbina.flask.cli import turbina_group
from turbina.flask.extension import get_state
from turbina.queries.state import QueriesState

from .conftest import Author, seed


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=db_url,
        SQLALCHEMY_BINDS={"reports": f"sqlite:///{tmp_path / 'reports.db'}"},
        TURBINA_CACHE_BACKEND="null",
        TURBINA_EXPLAIN=False,
        TURBINA_SERVER_TIMING=True,
        TURBINA_STORE="memory",  # the CLI reads the store: this app's own
    )
    db = SQLAlchemy()
    db.init_app(app)
    Turbina(app)
    app.cli.add_command(turbina_group)
    with app.app_context():
        seed(db.engine)
    get_state(app).queries.reset()

    @app.get("/authors")
    def authors() -> dict[str, object]:
        rows = db.session.scalars(sa.select(Author)).all()
        return {"authors": [{"name": a.name, "books": len(a.books)} for a in rows]}

    @app.get("/report")
    def report() -> dict[str, object]:
        with db.engines["reports"].connect() as conn:
            value = conn.exec_driver_sql("SELECT 41 + 1").scalar()
        return {"value": value}

    @app.get("/lookup")
    def lookup() -> dict[str, object]:
        names = [
            db.session.execute(sa.select(Author.name).where(Author.id == i)).scalar()
            for i in range(1, 7)
        ]
        return {"names": names}

    yield app
    with app.app_context():
        get_state(app).queries.close()
        for engine in db.engines.values():
            engine.dispose()


def _queries(app: Flask) -> QueriesState:
    state = get_state(app).queries
    assert isinstance(state, QueriesState)
    return state


def test_every_bind_is_recorded(app: Flask) -> None:
    state = _queries(app)
    assert set(state.recorders) == {"default", "reports"}
    app.test_client().get("/report")
    assert [e.fingerprint for e in state.recorders["reports"].stats] == ["select ? + ?"]


def test_server_timing_header_and_request_findings(app: Flask) -> None:
    state = _queries(app)
    response = app.test_client().get("/authors")
    assert response.status_code == 200
    header = response.headers["Server-Timing"]
    assert header.startswith("db;dur=") and header.endswith('desc="11 queries"')
    [seen] = state.findings.all()
    assert seen.finding.subject == "Author.books"
    assert seen.finding.fix == "selectinload(Author.books)"
    assert seen.finding.endpoint == "/authors"
    app.test_client().get("/authors")
    assert state.findings.all()[0].requests == 2


def test_cli_queries_table(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    client = app.test_client()
    client.get("/authors")
    client.get("/lookup")
    result = app.test_cli_runner().invoke(
        args=["turbina", "queries", "--top", "3", "--sort", "calls"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "engine",
        "calls",
        "total_ms",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "rows",
        "fingerprint",
    ]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 5
    first = lines[2].split()
    assert first[0] == "default" and first[1] == "10"
    # The lazy load of Author.books: its select list folded to the first column (2.0 labels
    # each column, 2.1 does not: both fold the same way), the WHERE that tells it apart kept.
    assert lines[2].endswith(
        "  select q_books.id, ... from q_books where ? = q_books.author_id order by q_books.id"
    )
    assert "from q_authors where q_authors.id = ?" in lines[3] and lines[3].split()[1] == "6"
    assert max(len(line) for line in lines) <= 160
    monkeypatch.setenv("COLUMNS", "120")  # a narrow terminal: cut, the shared head kept
    narrow = app.test_cli_runner().invoke(args=["turbina", "queries", "--sort", "calls"])
    assert max(len(line) for line in narrow.output.splitlines()) <= 120
    assert "  select q_books.id, ... from q_boo" in narrow.output.splitlines()[2]
    wide = app.test_cli_runner().invoke(args=["turbina", "queries", "--wide", "--sort", "calls"])
    assert " from q_books where ? = q_books.author_id order by q_books.id" in wide.output


def test_cli_nplusone_table_and_snapshot(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    client.get("/authors")
    client.get("/authors")
    client.get("/lookup")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["turbina", "nplusone"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["requests", "max_loads", "kind", "subject", "endpoint"]
    assert lines[2].split() == ["2", "10", "lazy_load", "Author.books", "/authors"]
    assert lines[3].split()[:3] == ["1", "6", "repeated_statement"]
    fixes = result.output.split("\nfixes:\n", 1)[1].splitlines()
    assert fixes[0] == "1. Author.books (/authors)"
    assert fixes[1].startswith("   at    ") and "test_flask.py:" in fixes[1]
    # The query the loader goes on: learned from the first request, named from the second.
    assert fixes[2].startswith("   fix   .options(selectinload(Author.books)) on the query at ")
    assert "test_flask.py:" in fixes[2] and fixes[2].endswith(" in authors")
    assert fixes[3].startswith("2. select q_authors.name from q_authors where q_authors.id = ?")

    path = tmp_path / "snap.json"
    _queries(app).save_snapshot(path)
    assert json.loads(path.read_text())["findings"][0]["subject"] == "Author.books"
    _queries(app).reset()  # this process forgets; the store keeps what was flushed
    assert runner.invoke(args=["turbina", "nplusone"]).output == result.output
    again = runner.invoke(args=["turbina", "nplusone", "--from", str(path)])
    assert again.output == result.output


def test_cli_empty_and_bad_snapshot(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner(**SEPARATE_STDERR)
    empty = runner.invoke(args=["turbina", "queries"]).output
    assert empty.startswith("turbina: no queries recorded in the store in the last 5m (")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    result = runner.invoke(args=["turbina", "queries", "--from", str(bad)])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"turbina: error: snapshot {bad} is not valid JSON: ")
    assert line.endswith("(fix: pass a JSON file written by QueriesState.save_snapshot)")


def test_cli_reads_the_apps_snapshot_when_its_process_has_no_data(
    app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "queries.json"
    serving = _queries(app)
    app.test_client().get("/authors")
    assert serving.save_snapshot_if_used(path)
    # A fresh CLI process: same configuration, nothing recorded.
    cli_app = Flask("cli")
    cli_app.config.update(
        TURBINA_QUERIES_SNAPSHOT=str(path), TURBINA_CACHE_BACKEND="null", TURBINA_EXPLAIN=False
    )
    cli_app.config["TURBINA_MONITOR"] = False  # no store to read: the snapshot is the source
    Turbina(cli_app)
    cli_app.cli.add_command(turbina_group)
    assert not get_state(cli_app).queries.save_snapshot_if_used(
        path
    )  # never overwrites with nothing
    output = cli_app.test_cli_runner().invoke(args=["turbina", "nplusone"]).output
    assert "selectinload(Author.books)" in output


def test_engines_created_after_turbina_are_attached_on_first_request(sqlite_url: str) -> None:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        TURBINA_CACHE_BACKEND="null",
        TURBINA_EXPLAIN=False,
        TURBINA_SERVER_TIMING=True,
    )
    Turbina(app)
    db = SQLAlchemy()
    db.init_app(app)

    @app.get("/")
    def index() -> dict[str, object]:
        return {"one": db.session.execute(sa.text("SELECT 1")).scalar()}

    response = app.test_client().get("/")
    assert response.headers["Server-Timing"].endswith('desc="1 queries"')
    assert list(_queries(app).recorders) == ["default"]
    _queries(app).close()
    with app.app_context():
        db.engine.dispose()


def test_literals_never_reach_cli_output(app: Flask) -> None:
    email, cpf = "joana.pereira@example.com.br", "987.654.321-00"

    @app.get("/search")
    def search() -> dict[str, object]:
        db = app.extensions["sqlalchemy"]
        for _i in range(6):
            db.session.execute(
                sa.text(f"SELECT id FROM q_authors WHERE email = '{email}' AND name <> '{cpf}'")
            ).all()
        return {}

    state = _queries(app)
    state.slow_query_ms = 0.0
    for recorder in state.recorders.values():
        recorder.slow_query_ms = 0.0
    app.test_client().get("/search")
    runner = app.test_cli_runner()
    outputs = [
        runner.invoke(args=["turbina", *args]).output for args in (["queries"], ["nplusone"])
    ]
    outputs.append(json.dumps(state.snapshot(), default=str))
    assert "q_authors" in outputs[0] and "repeated_statement" in outputs[1]
    for text in outputs:
        assert email not in text and cpf not in text and "joana" not in text
