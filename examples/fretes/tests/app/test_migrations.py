"""The schema's migration history: 0001 is exactly the models' schema, a datagen-built database
is stamped (never re-created), 0002 builds the advisor's indexes (CONCURRENTLY on PostgreSQL,
no INVALID leftover when a build fails) and the optimized listing's queries use them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from fretes import schema_migrations
from fretes.app import create_app, normalize_database_url
from fretes.cli import main
from fretes.datagen.pipeline import DEMO_PASSWORD, generate
from fretes.models import Base, db
from fretes.schema_migrations import MigrationError, current, downgrade, upgrade
from turbina.indexes.ddl import portable_migration_text
from turbina.indexes.spec import IndexSpec

# The entregas' child tables: the listing reads some of them per page of entregas (counts,
# sums, the last agendamento); a full scan of any is the regression the migration prevents.
CHILDREN = (
    "agendamentos_entrega",
    "logs_entrega",
    "eventos_entrega",
    "custos_extra_entrega",
    "comentarios_nf",
)


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(normalize_database_url(url), poolclass=sa.pool.NullPool)


def _indexes(url: str) -> dict[str, bool]:
    """Index name -> valid, of the revisions' ``idx_`` indexes present in the database."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                rows = conn.exec_driver_sql(
                    "SELECT c.relname, i.indisvalid FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_indexes p ON p.indexname = c.relname "
                    "WHERE p.schemaname = current_schema() AND left(c.relname, 4) = 'idx_'"
                )
                return {name: bool(valid) for name, valid in rows}
            rows = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, 4) = 'idx_'"
            )
            return {name: True for (name,) in rows}
    finally:
        engine.dispose()


def _dialect(url: str) -> str:
    return sa.make_url(normalize_database_url(url)).get_dialect().name


def _count(url: str, table: str) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
    finally:
        engine.dispose()


@contextmanager
def _statements() -> Iterator[list[tuple[str, Any, str | None]]]:
    """Every statement any engine runs meanwhile: (SQL, parameters, isolation level)."""
    seen: list[tuple[str, Any, str | None]] = []

    def capture(
        conn: sa.Connection, cursor: Any, statement: str, parameters: Any, *args: Any
    ) -> None:
        seen.append((statement, parameters, conn.get_execution_options().get("isolation_level")))

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)


def test_baseline_is_the_models_schema(db_url: str) -> None:
    assert upgrade(db_url, "0001") == ["0001"]
    assert current(db_url) == "0001"
    engine = _engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
    assert _indexes(db_url) == {}  # the naive schema: no index beyond keys and uniques


def test_datagen_database_is_stamped_then_indexed(db_url: str) -> None:
    generate(db_url, scale="tiny")
    rows = _count(db_url, "logs_entrega")
    assert current(db_url) is None
    assert upgrade(db_url) == ["0002"]  # stamped at 0001, so only 0002 ran
    assert current(db_url) == "0002"
    assert _count(db_url, "logs_entrega") == rows  # the tables were kept, not re-created
    expected = schema_migrations.revision_indexes(_dialect(db_url))["0002"]
    assert len(expected) == (17 if _dialect(db_url) == "postgresql" else 15)
    found = _indexes(db_url)
    assert set(expected) == set(found)
    assert all(found.values())  # PostgreSQL: indisvalid
    assert upgrade(db_url) == []  # twice: a no-op
    assert set(_indexes(db_url)) == set(expected)
    assert downgrade(db_url, "0001") == ["0002"]
    assert current(db_url) == "0001" and _indexes(db_url) == {}
    assert upgrade(db_url) == ["0002"]
    assert set(_indexes(db_url)) == set(expected)


def test_reset_datagen_goes_back_to_the_baseline(sqlite_url: str) -> None:
    generate(sqlite_url, scale="tiny")
    upgrade(sqlite_url)
    generate(sqlite_url, scale="tiny", reset=True)
    assert current(sqlite_url) is None and _indexes(sqlite_url) == {}
    assert upgrade(sqlite_url) == ["0002"]


@pytest.mark.postgres
def test_postgres_builds_concurrently_outside_a_transaction(pg_url: str) -> None:
    generate(pg_url, scale="tiny")
    with _statements() as seen:
        upgrade(pg_url)
    creates = [(sql, level) for sql, _params, level in seen if sql.startswith("CREATE INDEX")]
    assert len(creates) == 17
    assert all(sql.startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS ") for sql, _ in creates)
    assert {level for _, level in creates} == {"AUTOCOMMIT"}  # autocommit_block
    with _statements() as seen:
        downgrade(pg_url, "0001")
    drops = [(sql, level) for sql, _params, level in seen if sql.startswith("DROP INDEX")]
    assert len(drops) == 17
    assert all(sql.startswith("DROP INDEX CONCURRENTLY IF EXISTS ") for sql, _ in drops)
    assert {level for _, level in drops} == {"AUTOCOMMIT"}


@pytest.mark.postgres
def test_failed_concurrent_build_leaves_no_invalid_index(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of the history whose 0002 builds a UNIQUE index on a repeating column: the
    # concurrent build fails after creating the index entry, which PostgreSQL leaves INVALID.
    history = tmp_path / "migrations"
    shutil.copytree(
        schema_migrations.MIGRATIONS,
        history,
        ignore=shutil.ignore_patterns("__pycache__", "0002_*"),
    )
    bad = IndexSpec("logs_entrega", ("entrega_id",), unique=True)
    good = IndexSpec("fretes", ("status",))
    text = portable_migration_text({"postgresql": [good, bad]}, "0002", "0001")
    (history / "versions" / "0002_bad.py").write_text(text)
    monkeypatch.setattr(schema_migrations, "MIGRATIONS", history)
    generate(pg_url, scale="tiny")
    with pytest.raises(MigrationError) as caught:
        upgrade(pg_url)
    assert f"dropped the INVALID index {bad.name}" in caught.value.message
    assert "could not create unique index" in caught.value.message
    assert "fretes db upgrade" in (caught.value.fix or "")
    assert bad.name not in _indexes(pg_url)
    assert all(_indexes(pg_url).values())
    assert current(pg_url) == "0001"  # 0002 is not recorded


def _listar_statements(url: str) -> list[tuple[str, Any]]:
    """The statements of one optimized /monitoramento/listar page (as admin)."""
    app: Flask = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "FRETES_MODE": "optimized",
            "TURBINA_EXPLAIN": False,
        }
    )
    try:
        client = app.test_client()
        login = client.post("/login", json={"username": "admin", "password": DEMO_PASSWORD})
        assert login.status_code == 200
        with _statements() as seen:
            assert client.get("/monitoramento/listar").status_code == 200
        return [
            (sql, params)
            for sql, params, _level in seen
            if sql.lstrip().upper().startswith("SELECT")
        ]
    finally:
        with app.app_context():
            db.engine.dispose()


def _full_scans(url: str, statements: list[tuple[str, Any]]) -> set[str]:
    """The CHILDREN tables any of ``statements`` reads with a full scan."""
    scanned: set[str] = set()
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                # Tiny tables fit in a page, where a scan is cheapest: ask whether an index
                # *can* serve the lookup (a missing index still plans a Seq Scan).
                conn.exec_driver_sql("SET enable_seqscan = off")
            for sql, params in statements:
                if not any(table in sql for table in CHILDREN):
                    continue
                prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
                plan = conn.exec_driver_sql(prefix + sql, params).fetchall()
                text = "\n".join(str(row[0] if pg else row[-1]) for row in plan)
                for table in CHILDREN:
                    # SQLite: SCAN (even USING an index) reads it all; SEARCH looks rows up.
                    pattern = rf"Seq Scan on {table}\b" if pg else rf"\bSCAN {table}\b"
                    if re.search(pattern, text):
                        scanned.add(table)
    finally:
        engine.dispose()
    return scanned


def test_optimized_listing_uses_the_indexes(db_url: str) -> None:
    generate(db_url, scale="tiny")
    statements = _listar_statements(db_url)
    read = {t for t in CHILDREN for sql, _ in statements if t in sql}
    assert read >= {"comentarios_nf", "custos_extra_entrega", "agendamentos_entrega"}
    # The guard can fail: on the naive schema every child the page reads is scanned whole.
    assert _full_scans(db_url, statements) == read
    upgrade(db_url)
    assert _full_scans(db_url, _listar_statements(db_url)) == set()


def test_cli_upgrade_current_downgrade(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    generate(sqlite_url, scale="tiny")
    assert main(["db", "current", "--database-url", sqlite_url]) == 0
    assert capsys.readouterr().out == "none\n"
    assert main(["db", "upgrade", "--database-url", sqlite_url]) == 0
    assert capsys.readouterr().out == f"fretes: applied 0002; {sqlite_url} is at 0002\n"
    assert main(["db", "upgrade", "--database-url", sqlite_url]) == 0
    assert "nothing to apply" in capsys.readouterr().out
    assert main(["db", "downgrade", "--database-url", sqlite_url, "0001"]) == 0
    assert capsys.readouterr().out == f"fretes: undid 0002; {sqlite_url} is at 0001\n"


def test_cli_default_is_database_url(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(["db", "upgrade", "0001"]) == 0
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0001"


@pytest.mark.parametrize(
    ("args", "message", "fix"),
    [
        (["db", "upgrade", "0099"], "unknown revision '0099'", "pass one of: 0001, 0002, head"),
        (["db", "downgrade", "nope"], "unknown revision 'nope'", "0001, 0002, head, base"),
        (["db", "upgrade", "--database-url", "nosuch://x"], "is not a database URL", "pass a URL"),
        (
            ["db", "current", "--database-url", "postgresql://postgres@127.0.0.1:1/none"],
            "cannot reach postgresql+psycopg://postgres@127.0.0.1:1/none",
            "check --database-url / DATABASE_URL",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_1(
    args: list[str],
    message: str,
    fix: str,
    sqlite_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("fretes: error: ") and message in err and fix in err
