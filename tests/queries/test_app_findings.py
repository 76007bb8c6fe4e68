"""Findings on an app of its own (``app_fixture``, shaped like microblog): each names the
template line, the query to change and the code to paste; Server-Timing counts what the
database received; a guard with no recorder behind it fails."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from turbina import Turbina
from turbina.flask.cli import turbina_group
from turbina.flask.extension import get_state
from turbina.queries.nplusone import LAZY_LOAD, REPEATED_STATEMENT, Finding
from turbina.queries.state import QueriesState
from turbina.testing import max_queries, no_n_plus_one

from . import app_fixture
from .app_fixture import POSTS, USERS, Post, User, af_followers, create_app, db, seed, site_line

TEMPLATES = app_fixture.HERE / "templates"
# Call sites are printed relative to the app's project directory: the folder holding its
# top-level package (computed here from the module name, not by the code under test).
_DEPTH = len(app_fixture.__name__.split("."))
PREFIX = os.path.relpath(app_fixture.HERE, app_fixture.HERE.parents[_DEPTH - 1])
CONFIG = {
    "TURBINA_CACHE_BACKEND": "null",
    "TURBINA_EXPLAIN": False,
    "TURBINA_SERVER_TIMING": True,
    "TURBINA_STORE": "memory",  # the CLI reads the store: this app's own
}


def _app(url: str, **config: Any) -> Flask:
    app = create_app(url, **{**CONFIG, **config})
    seed(app)
    Turbina(app)  # after the app's own before/after_request hooks
    app.cli.add_command(turbina_group)
    return app


def _close(app: Flask) -> None:
    queries = get_state(app).queries
    if queries is not None:
        queries.close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = _app(db_url)
    yield app
    _close(app)


@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[Flask]:
    app = _app(sqlite_url)
    yield app
    _close(app)


def _findings(app: Flask, kind: str) -> list[Finding]:
    queries = get_state(app).queries
    assert isinstance(queries, QueriesState)
    return [s.finding for s in queries.findings.all() if s.finding.kind == kind]


def _queries_in_header(response: Any) -> int:
    desc = response.headers["Server-Timing"].rsplit('desc="', 1)[1]
    return int(desc.split()[0])


def test_template_n_plus_one_names_the_template_line_the_query_and_the_fix(app: Flask) -> None:
    client = app.test_client()
    for _ in range(2):  # the first request learns which query loads the Post rows
        assert client.get("/explore").status_code == 200
    [finding] = _findings(app, LAZY_LOAD)
    assert finding.subject == "Post.author"
    assert finding.loads == USERS - 1  # every author but the current user (already loaded)
    post_line = site_line("post.author.username", TEMPLATES / "_post.html")
    include_line = site_line('include "_post.html"', TEMPLATES / "index.html")
    assert finding.callsite == (
        f"{PREFIX}/templates/_post.html:{post_line} "
        f"(included from {PREFIX}/templates/index.html:{include_line})"
    )
    query_site = f"{PREFIX}/__init__.py:{site_line('explore-query')} in explore"
    assert finding.query_site == query_site
    assert finding.fix == "joinedload(Post.author)"
    assert finding.describe().endswith(
        f"; fix: .options(joinedload(Post.author)) on the query at {query_site}"
    )

    # The code to paste fixes it: no finding, no lazy load left (the joined load also
    # refreshes the current user, which base.html would otherwise reload).
    naive = _queries_in_header(client.get("/explore"))
    get_state(app).queries.reset()  # type: ignore[union-attr]
    fixed = client.get("/explore?fixed=1")
    assert _findings(app, LAZY_LOAD) == []
    assert _queries_in_header(fixed) == naive - finding.loads - 1


def test_api_loop_counts_get_code_that_runs_and_the_loops_line(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get("/api/users")
    items = response.get_json()["items"]
    found = {f.callsite: f for f in _findings(sqlite_app, REPEATED_STATEMENT)}
    counts = {
        "posts_count": "post_count",
        "followers_count": "follower_count",
        "following_count": "following_count",
    }
    module = f"{PREFIX}/__init__.py"
    assert set(found) == {
        f"{module}:{site_line(method.replace('_', '-'))} in {method}" for method in counts
    }
    posts_line = site_line("posts-count")
    loop = f"{module}:{site_line('api-loop')} in api_users"
    namespace = {
        "select": sa.select,
        "func": sa.func,
        "Post": Post,
        "User": User,
        "af_followers": af_followers,
    }
    with sqlite_app.app_context():
        keys = [item["id"] for item in items]
        for site, finding in found.items():
            method = site.rsplit(" in ", 1)[1]
            assert finding.loads == USERS
            assert finding.loop == loop  # the loop's line, not only the function's
            # The fix is code: the grouped count runs and gives what the per-row counts gave.
            code, _, comment = finding.fix.partition("  # ")
            assert code.startswith("counts = dict(session.execute(select(")
            scope = {**namespace, "session": db.session, "keys": keys}
            exec(code, scope)
            per_row = {item["id"]: item[counts[method]] for item in items}
            assert {k: scope["counts"].get(k, 0) for k in keys} == per_row
            # ... and so does the correlated count, as a column of the users query.
            expression = comment.split("query: ", 1)[1]
            rows = db.session.execute(eval(expression, scope)).all()
            assert {user.id: count for user, count in rows} == per_row
    assert found[f"{module}:{posts_line} in posts_count"].fix.startswith(
        "counts = dict(session.execute(select(Post.user_id, func.count())"
        ".where(Post.user_id.in_(keys)).group_by(Post.user_id)).all())"
    )


def _trace(app: Flask) -> list[str]:
    """Every statement SQLite itself runs on the app's connections (its trace callback)."""
    statements: list[str] = []

    def on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    with app.app_context():
        sa.event.listen(db.engine, "connect", on_connect)
        db.engine.dispose()  # new connections, traced
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # connect (and its first-connect probes) now
    return statements


def _sent(statements: list[str]) -> int:
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return sum(1 for s in statements if not s.lstrip().upper().startswith(control))


def test_server_timing_counts_what_the_database_received(sqlite_app: Flask) -> None:
    statements = _trace(sqlite_app)
    client = sqlite_app.test_client()
    for path in ("/explore", "/explore?fixed=1", "/api/users"):
        statements.clear()
        response = client.get(path)
        assert response.status_code == 200
        # The app's own hooks, registered before Turbina(app), are in the count.
        assert any(s.startswith("UPDATE af_users SET last_seen") for s in statements)
        assert response.headers["X-Posts"] == str(POSTS)
        assert _queries_in_header(response) == _sent(statements), path


def test_guards_with_no_recorder_behind_them_fail(sqlite_url: str) -> None:
    app = _app(sqlite_url, TURBINA_ENABLED=False)
    client = app.test_client()
    try:
        for guard in (lambda: max_queries(0), no_n_plus_one):
            with pytest.raises(AssertionError) as failure, guard():
                assert client.get("/explore").status_code == 200
            message = str(failure.value)
            assert "cannot count the statements of engines without a QueryRecorder" in message
            assert "sqlite:///" in message and "pass the engine (" in message
            assert "(max_queries(0, engine))" in message or "(no_n_plus_one(engine))" in message
        with app.app_context(), max_queries(1, db.engine):  # given the engine: it counts
            db.session.get(User, 1)
    finally:
        _close(app)


def test_a_guard_in_a_process_without_any_recorder_fails(tmp_path: Path) -> None:
    code = (
        "from turbina.testing import max_queries\n"
        "try:\n"
        "    with max_queries(0):\n"
        "        pass\n"
        "except AssertionError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    print('passed')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert out.startswith("max_queries(0) has no QueryRecorder behind it, so it would pass")
    assert "TURBINA_ENABLED=false" in out


def test_the_cli_prints_where_and_what_to_paste(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    client.get("/explore")
    client.get("/explore")
    client.get("/api/users")
    result = sqlite_app.test_cli_runner().invoke(args=["turbina", "nplusone"])
    assert result.exit_code == 0, result.output
    fixes = result.output.split("\nfixes:\n", 1)[1].splitlines()
    post_line = site_line("post.author.username", TEMPLATES / "_post.html")
    assert fixes[0] == "1. Post.author (/explore)"
    assert fixes[1].startswith(f"   at    {PREFIX}/templates/_post.html:{post_line} (included")
    assert fixes[2] == (
        "   fix   .options(joinedload(Post.author)) on the query at "
        f"{PREFIX}/__init__.py:{site_line('explore-query')} in explore"
    )
    loop_lines = [line for line in fixes if line.startswith("   loop  ")]
    assert loop_lines == [f"   loop  {PREFIX}/__init__.py:{site_line('api-loop')} in api_users"] * 3
    # The three count statements differ only deep inside: the table keeps them apart.
    table = result.output.split("\n\nfixes:", 1)[0].splitlines()[2:]
    subjects = [line.split("repeated_statement", 1)[1] for line in table[1:]]
    assert len(set(subjects)) == 3
