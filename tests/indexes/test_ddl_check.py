"""DDL: immutable predicates, the migration, apply (INVALID builds dropped), and `check`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from turbina.flask.cli import main
from turbina.indexes import ddl
from turbina.indexes.check import check_file, check_sql
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload_file import split_statements

DATA = Path(__file__).parent / "data"
SEED = DATA / "indices_criticos.sql"
TODAY = date(2026, 11, 28)
SEED_CURRENT_DATE = {
    "idx_entregas_cliente_periodo",
    "idx_faturamento_valor_periodo",
    "idx_pedidos_status_expedicao",
}


def test_relative_date_is_pinned_with_a_note() -> None:
    fix = ddl.immutable_predicate("data_embarque >= CURRENT_DATE - INTERVAL '90 days'", today=TODAY)
    assert fix.sql == "data_embarque >= CAST('2026-08-30' AS DATE)"
    assert fix.note is not None and "2026-08-30" in fix.note
    assert (
        ddl.immutable_predicate("expedicao >= CURRENT_DATE - INTERVAL '1 month'", today=TODAY).sql
        == "expedicao >= CAST('2026-10-28' AS DATE)"
    )


def test_other_volatile_predicates_are_refused_with_the_reason() -> None:
    fix = ddl.immutable_predicate("criado_em > now() - INTERVAL '1 hour'", today=TODAY)
    assert fix.sql is None and "not IMMUTABLE" in (fix.note or "")
    assert ddl.immutable_predicate("status = 'ativo'").sql == "status = 'ativo'"
    kept, notes = ddl.checked(
        [IndexSpec("t", ("a",), where="random() < 0.5"), IndexSpec("t", ("b",))], "postgresql"
    )
    assert kept == [IndexSpec("t", ("b",))] and "refused" in notes[0]


def test_check_seed_file_reports_the_current_date_statements_and_the_transaction_note() -> None:
    findings = check_file(SEED, today=TODAY)
    errors = [f for f in findings if f.severity == "error"]
    notes = [f for f in findings if f.severity == "note"]
    assert {f.subject.split()[-1] for f in errors} == SEED_CURRENT_DATE
    assert all("CURRENT_DATE" in f.message for f in errors)
    assert (
        len(notes) == 1
        and "transaction block" in notes[0].message
        and "autocommit_block" in (notes[0].fix or "")
    )


def test_check_concurrently_inside_begin_commit() -> None:
    text = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\nCREATE INDEX j ON t (b);\n"
    findings = check_sql(text)
    assert [(f.line, f.severity) for f in findings] == [(2, "error")]
    assert "transaction block" in findings[0].message


def test_check_cli_output_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["indexes", "check", str(SEED)]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert sum(": error: " in line for line in lines) == 3
    assert all(line.startswith("turbina: check: ") for line in lines)
    assert "3 statement(s) would fail, 1 note(s)" in lines[-1]
    assert out.err.splitlines() == [
        f"turbina: error: 3 statement(s) in {SEED} would fail (fix: apply the fixes shown above)"
    ]


@pytest.mark.postgres
def test_check_agrees_with_postgresql_and_finds_unknown_columns(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db(entregas=50, hypopg=False)
    failing = set()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for _line, statement in split_statements(SEED.read_text()):
            name = statement.split("CONCURRENTLY", 1)[1].split()[0]
            try:
                conn.exec_driver_sql(statement)
            except sa.exc.DBAPIError as exc:
                assert "IMMUTABLE" in str(exc.orig)
                failing.add(name)
    assert failing == SEED_CURRENT_DATE
    findings = check_sql(
        "CREATE INDEX i ON fretes (status, nope);\nCREATE INDEX k ON nothing (a);", engine
    )
    assert [f.message for f in findings] == [
        "unknown column(s) of fretes: nope",
        "table nothing does not exist",
    ]


def test_emit_sql_and_migration_text() -> None:
    specs = [
        IndexSpec("logs_entrega", ("entrega_id",)),
        IndexSpec("entregas_monitoradas", ("criado_em",), where="NOT entregue"),
    ]
    sql = ddl.emit_sql(specs, "postgresql")
    assert (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id);"
        in sql
    )
    assert "WHERE NOT entregue;" in sql
    text = ddl.migration_text(specs, "abc123", None)
    compile(text, "migration.py", "exec")
    assert "autocommit_block()" in text and "DROP INDEX CONCURRENTLY IF EXISTS" in text


def _run_migration(engine: sa.Engine, text: str, fn: str) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    namespace: dict[str, object] = {}
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        with Operations.context(context), context.begin_transaction():
            exec(compile(text, "migration.py", "exec"), namespace)
            namespace[fn]()  # type: ignore[operator]
        conn.commit()


@pytest.mark.postgres
def test_migration_applies_and_reapplies(make_fretes_db: Callable[..., sa.Engine]) -> None:
    engine = make_fretes_db(entregas=200, hypopg=False)
    specs = [
        IndexSpec("logs_entrega", ("entrega_id",)),
        IndexSpec("entregas_monitoradas", ("criado_em",), where="NOT entregue"),
    ]
    text = ddl.migration_text(specs, "abc123", None)
    _run_migration(engine, text, "upgrade")
    _run_migration(engine, text, "upgrade")  # IF NOT EXISTS: a re-run is harmless
    names = {
        ix["name"]
        for t in ("logs_entrega", "entregas_monitoradas")
        for ix in sa.inspect(engine).get_indexes(t)
    }
    assert {s.name for s in specs} <= names
    _run_migration(engine, text, "downgrade")
    names = {
        ix["name"]
        for t in ("logs_entrega", "entregas_monitoradas")
        for ix in sa.inspect(engine).get_indexes(t)
    }
    assert not {s.name for s in specs} & names


@pytest.mark.postgres
def test_apply_failed_unique_build_leaves_no_invalid_index(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db(entregas=200, hypopg=False)
    bad = IndexSpec("logs_entrega", ("entrega_id",), unique=True)  # entrega_id repeats
    good = IndexSpec("fretes", ("status",))
    result = ddl.apply(engine, [bad, good])
    assert [s for s, _why in result.invalid] == [bad]
    assert "could not create unique index" in result.invalid[0][1]
    assert result.created == [good]
    with engine.connect() as conn:
        invalid = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
        ).scalar()
        assert invalid == 0
        assert conn.exec_driver_sql(f"SELECT to_regclass('{bad.name}')").scalar() is None
    again = ddl.apply(engine, [good])
    assert again.existing == [good] and not again.created


def test_apply_on_sqlite_is_plain_and_idempotent(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
    spec = IndexSpec("t", ("a",), where="b IS NULL")
    assert ddl.apply(engine, [spec]).created == [spec]
    assert ddl.apply(engine, [spec]).existing == [spec]
    assert [ix["name"] for ix in sa.inspect(engine).get_indexes("t")] == [spec.name]
    engine.dispose()


def test_sqlite_migration_is_valid_sqlite_and_runs(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
    specs = [IndexSpec("t", ("a",)), IndexSpec("t", ("b",), where="a IS NULL")]
    text = ddl.migration_text(specs, "abc123", None, dialect="sqlite")
    assert "CONCURRENTLY" not in text
    _run_migration(engine, text, "upgrade")
    _run_migration(engine, text, "upgrade")  # IF NOT EXISTS: a re-run is harmless
    assert {ix["name"] for ix in sa.inspect(engine).get_indexes("t")} == {s.name for s in specs}
    _run_migration(engine, text, "downgrade")
    assert sa.inspect(engine).get_indexes("t") == []
    engine.dispose()


def _indexes(engine: sa.Engine, table: str) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes(table) if ix["name"]}


PORTABLE = {
    "postgresql": [IndexSpec("t", ("a",)), IndexSpec("t", ("b",), where="a IS NULL")],
    "sqlite": [IndexSpec("t", ("b",))],
}


def test_portable_migration_runs_the_sqlite_set(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
    text = ddl.portable_migration_text(PORTABLE, "abc123", None, note="from a test")
    assert '"""turbina: advised indexes\n\nfrom a test\n' in text
    _run_migration(engine, text, "upgrade")
    _run_migration(engine, text, "upgrade")  # IF NOT EXISTS: a re-run is harmless
    assert _indexes(engine, "t") == {"idx_t_b"}  # the SQLite set, not PostgreSQL's
    _run_migration(engine, text, "downgrade")
    assert _indexes(engine, "t") == set()
    engine.dispose()


@pytest.mark.postgres
def test_portable_migration_runs_the_postgres_set_concurrently(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db(entregas=50, hypopg=False)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    text = ddl.portable_migration_text(PORTABLE, "abc123", None)
    _run_migration(engine, text, "upgrade")
    assert _indexes(engine, "t") == {s.name for s in PORTABLE["postgresql"]}
    # CONCURRENTLY (in autocommit_block: it would fail inside a transaction block).
    assert [sql for sql in seen if sql.startswith("CREATE INDEX")] == [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_t_a ON t (a)",
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {PORTABLE['postgresql'][1].name} "
        "ON t (b) WHERE a IS NULL",
    ]
    _run_migration(engine, text, "downgrade")
    assert _indexes(engine, "t") == set()
    drops = [sql for sql in seen if sql.startswith("DROP INDEX")]
    assert drops and all(sql.startswith("DROP INDEX CONCURRENTLY IF EXISTS") for sql in drops)


def test_portable_migration_refuses_an_unknown_dialect_set() -> None:
    with pytest.raises(ddl.TurbinaError, match="no migration statements for dialect mysql"):
        ddl.portable_migration_text({"mysql": []}, "abc123", None)


def test_portable_sets_carry_the_advice_to_the_other_dialect() -> None:
    specs = [IndexSpec("t", ("a",)), IndexSpec("t", ("b",), where="a IS NULL")]
    sets, notes = ddl.portable_sets(specs, "sqlite")
    assert sets["sqlite"] == specs
    assert [s.describe() for s in sets["postgresql"]] == ["t (a)", "t (b) WHERE a IS NULL"]
    assert notes == []
    relative = [IndexSpec("t", ("b",), where="b > CURRENT_DATE - INTERVAL '90 days'")]
    sets, notes = ddl.portable_sets(relative, "postgresql")
    assert sets["sqlite"][0].where is not None and "CURRENT_DATE" not in sets["sqlite"][0].where


def test_apply_dry_run_changes_nothing(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from idx_dataset import populate

    engine = sa.create_engine(sqlite_url)
    populate(engine, 2000)
    workload = tmp_path / "w.sql"
    workload.write_text((DATA / "workload.sql").read_text())
    before = {
        ix["name"] for t in ("logs_entrega", "fretes") for ix in sa.inspect(engine).get_indexes(t)
    }
    args = ["indexes", "apply", "--database-url", sqlite_url, "--workload", str(workload)]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "turbina: would create: CREATE INDEX IF NOT EXISTS idx_logs_entrega_entrega_id" in out
    assert "nothing changed" in out
    after = {
        ix["name"] for t in ("logs_entrega", "fretes") for ix in sa.inspect(engine).get_indexes(t)
    }
    assert after == before
    engine.dispose()


def test_apply_refuses_an_index_measured_slower_unless_forced() -> None:
    from dataclasses import dataclass

    from turbina.indexes.verify import Measured, Verification, verdicts
    from turbina.indexes.workload import WorkloadQuery

    @dataclass
    class Rec:  # shaped like advisor.Recommendation: the index and the statements it helps
        spec: IndexSpec
        queries: list[object]

    @dataclass
    class Effect:
        query: WorkloadQuery

    fast = WorkloadQuery("SELECT * FROM t WHERE a = 1", calls=10, fingerprint="fast")
    slow = WorkloadQuery("SELECT * FROM t WHERE b = 1", calls=10, fingerprint="slow")
    measured = Verification([Measured(fast, 4.0, 1.0), Measured(slow, 1.0, 1.3)])  # x4, x0.77
    a, b = IndexSpec("t", ("a",)), IndexSpec("t", ("b",))
    judged = verdicts([Rec(a, [Effect(fast)]), Rec(b, [Effect(slow)])], measured)
    assert [(v.spec, v.slower) for v in judged] == [(a, False), (b, True)]
    assert round(judged[1].speedup, 2) == 0.77
