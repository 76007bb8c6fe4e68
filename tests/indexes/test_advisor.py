"""The advisor end to end on real databases: choices, safety, the SQLite path, the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from idx_dataset import populate

from turbina.errors import TurbinaError
from turbina.flask.cli import main
from turbina.indexes.advise import advise_workload, open_backend
from turbina.indexes.advisor import Advisor
from turbina.indexes.report import drop_suggestions, render_lines
from turbina.indexes.spec import IndexSpec
from turbina.indexes.verify import verify
from turbina.indexes.workload import WorkloadQuery, from_pg_stat_statements, from_samples
from turbina.indexes.workload_file import from_sql_file

WORKLOAD = Path(__file__).parent / "data" / "workload.sql"
LOGS = IndexSpec("logs_entrega", ("entrega_id",))


@dataclass
class Sample:
    """Shaped like the query recorder's WorkloadSample."""

    engine_name: str
    dialect: str
    fingerprint: str
    statement: str
    parameters: Any
    calls: int
    total_ms: float
    mean_ms: float


def advise(engine: sa.Engine, queries: list[WorkloadQuery], backend: str) -> list[IndexSpec]:
    whatif = open_backend(engine, backend)
    try:
        return Advisor(whatif, queries).run().specs
    finally:
        whatif.close()


def checksums(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(
                f"SELECT md5(string_agg(x::text, ',' ORDER BY x.id)) FROM {t} x"
            ).scalar()
            for t in sa.inspect(conn).get_table_names()
        }


def index_names(engine: sa.Engine) -> set[str]:
    inspector = sa.inspect(engine)
    return {str(ix["name"]) for t in inspector.get_table_names() for ix in inspector.get_indexes(t)}


@pytest.mark.postgres
def test_hypopg_and_transaction_backends_choose_the_same(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db()
    queries = from_sql_file(WORKLOAD)
    hypo = advise(engine, queries, "hypopg")
    real = advise(engine, queries, "transaction")
    assert set(hypo) == set(real)
    assert LOGS in hypo
    assert IndexSpec("entregas_monitoradas", ("criado_em",), where="NOT entregue") in hypo


@pytest.mark.postgres
def test_advisor_never_changes_data_nor_leaves_indexes(
    make_fretes_db: Callable[..., sa.Engine],
) -> None:
    engine = make_fretes_db()
    pinned = sa.create_engine(engine.url, pool_size=1, max_overflow=0)
    before, names = checksums(pinned), index_names(pinned)
    for backend in ("hypopg", "transaction"):
        assert advise(pinned, from_sql_file(WORKLOAD), backend)
    assert checksums(pinned) == before
    assert index_names(pinned) == names
    with pinned.connect() as conn:  # the advisor's own (pooled) session: no hypothetical index left
        assert conn.exec_driver_sql("SELECT count(*) FROM hypopg_list_indexes").scalar() == 0
    pinned.dispose()


@pytest.mark.postgres
def test_recorder_samples_and_generic_plans(make_fretes_db: Callable[..., sa.Engine]) -> None:
    engine = make_fretes_db()
    samples = [
        Sample(
            "default",
            "postgresql",
            "f1",
            "SELECT logs_entrega.id, logs_entrega.tipo FROM logs_entrega "
            "WHERE logs_entrega.entrega_id = %(pk_1)s",
            {"pk_1": 17},
            400,
            800.0,
            2.0,
        ),
        Sample(
            "default",
            "postgresql",
            "f2",
            "UPDATE fretes SET status = %(s)s",
            {"s": "PAGO"},
            5,
            5.0,
            1.0,
        ),
        Sample("default", "postgresql", "f3", "/* turbina */ SELECT 1", None, 5, 5.0, 1.0),
    ]
    queries = from_samples(samples)
    assert [q.fingerprint for q in queries] == ["f1"]
    assert LOGS in advise(engine, queries, "auto")
    generic = [WorkloadQuery("SELECT * FROM logs_entrega WHERE entrega_id = $1", calls=10)]
    assert generic[0].generic
    assert LOGS in advise(engine, generic, "hypopg")
    assert LOGS in advise(engine, generic, "transaction")


@pytest.mark.postgres
def test_report_lines_and_drop_suggestions(make_fretes_db: Callable[..., sa.Engine]) -> None:
    engine = make_fretes_db(entregas=500)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE INDEX dup_a ON fretes (status)")
        conn.exec_driver_sql("CREATE INDEX dup_b ON fretes (status, criado_em)")
        with pytest.raises(sa.exc.DBAPIError):
            conn.exec_driver_sql(
                "CREATE UNIQUE INDEX CONCURRENTLY broken ON logs_entrega (entrega_id)"
            )
    drops = {(d.kind, d.name) for d in drop_suggestions(engine)}
    assert {("duplicate", "dup_a"), ("invalid", "broken")} <= drops
    advice = advise_workload(engine, from_sql_file(WORKLOAD))
    lines = render_lines(advice, drop_suggestions(engine))
    assert all(line.startswith("turbina: ") for line in lines)
    assert any(
        line.startswith(
            "turbina: index: CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_entrega_entrega_id"
        )
        for line in lines
    )
    assert any(line.startswith("turbina: query: cost ") for line in lines)
    assert any(
        line.startswith("turbina: drop: DROP INDEX CONCURRENTLY IF EXISTS broken; invalid")
        for line in lines
    )


@pytest.mark.postgres
def test_pg_stat_statements_missing_names_the_fix(make_fretes_db: Callable[..., sa.Engine]) -> None:
    engine = make_fretes_db(entregas=10, hypopg=False)
    with pytest.raises(TurbinaError) as info:
        from_pg_stat_statements(engine)
    assert "pg_stat_statements" in (info.value.fix or "")


def sqlite_state(engine: sa.Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        schema = conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master ORDER BY name"
        ).all()
        tables = [r[1] for r in schema if r[0] == "table"]
        data = [conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY rowid").all() for t in tables]
    return tuple(schema), tuple(tuple(d) for d in data)


def test_sqlite_path_advises_and_verifies(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    populate(engine, 3000)
    before, state = index_names(engine), sqlite_state(engine)
    queries = from_sql_file(WORKLOAD)
    specs = advise(engine, queries, "auto")  # hypothetical indexes in an in-memory schema copy
    assert LOGS in specs
    # Real indexes, timed, rolled back: timings are machine-dependent, so only the clear win.
    assert LOGS in advise(engine, queries, "transaction")
    assert sqlite_state(engine) == state  # no data, index or sqlite_stat1 change
    assert index_names(engine) == before
    result = verify(engine, specs, queries, runs=3)
    assert len(result.measured) == len(queries)
    assert {s.name for s in result.applied.created} == {s.name for s in specs}
    assert index_names(engine) == before  # dropped again: keep was not asked
    engine.dispose()


def test_cli_advise_outside_an_app(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    engine = sa.create_engine(sqlite_url)
    populate(engine, 2000)
    engine.dispose()
    assert (
        main(["indexes", "advise", "--database-url", sqlite_url, "--workload", str(WORKLOAD)]) == 0
    )
    out = capsys.readouterr()
    assert (
        "turbina: index: CREATE INDEX IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id)"
        in out.out
    )
    assert "turbina: advising on 3 statements (sqlite)" in out.err
    assert "round 1:" in out.err
    target = tmp_path / "m.py"
    assert (
        main(
            [
                "indexes",
                "advise",
                "--database-url",
                sqlite_url,
                "--workload",
                str(WORKLOAD),
                "--format",
                "migration",
                "--output",
                str(target),
            ]
        )
        == 0
    )
    # One revision for both dialects: SQLite's plain DDL (the advice), PostgreSQL's CONCURRENTLY.
    migration = target.read_text()
    namespace: dict[str, object] = {}
    exec(compile(migration, str(target), "exec"), namespace)
    creates = namespace["CREATE"]
    assert isinstance(creates, dict)
    assert (
        "CREATE INDEX IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id)"
        in creates["sqlite"]
    )
    assert not any("CONCURRENTLY" in s for s in creates["sqlite"])
    assert (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_logs_entrega_entrega_id "
        "ON logs_entrega (entrega_id)" in creates["postgresql"]
    )
    assert "turbina indexes advise --format migration" in migration
    assert "workload: workload files" in migration
    assert main(["indexes", "advise", "--workload", str(WORKLOAD)]) == 1
    assert "pass --database-url URL" in capsys.readouterr().err
    common = ["--database-url", sqlite_url, "--workload", str(WORKLOAD)]
    assert main(["indexes", "verify", *common, "--runs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("turbina: verify: workload ") and "dropped again" in line for line in lines
    )
    assert main(["indexes", "apply", *common]) == 0
    applied = capsys.readouterr().out
    assert "turbina: created: idx_logs_entrega_entrega_id ON logs_entrega (entrega_id)" in applied
    assert main(["indexes", "advise", *common, "--format", "sql"]) == 0
    assert (
        "idx_logs_entrega_entrega_id" not in capsys.readouterr().out
    )  # now covered by the real index


def test_flask_command_uses_the_app_engine_and_the_recorded_workload(
    sqlite_url: str, tmp_path: Path
) -> None:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from idx_schema import logs_entrega

    from turbina.flask.cli import turbina_group
    from turbina.flask.extension import Turbina

    # A bare Flask + Flask-SQLAlchemy app (not the reference app: the library's tests run with
    # only the library installed); Turbina after db.init_app, as documented.
    app = Flask(__name__, instance_path=str(tmp_path))  # the saved report goes there
    app.config.update(SQLALCHEMY_DATABASE_URI=sqlite_url, TESTING=True)
    db = SQLAlchemy()
    db.init_app(app)
    Turbina(cache_backend="null", explain=False).init_app(app)
    app.cli.add_command(turbina_group)
    with app.app_context():
        populate(db.engine, 2000)
        for entrega_id in range(1, 40):
            db.session.execute(
                sa.select(logs_entrega).where(logs_entrega.c.entrega_id == entrega_id)
            ).all()
    result = app.test_cli_runner().invoke(args=["turbina", "indexes", "advise", "--format", "sql"])
    assert result.exit_code == 0, result.output
    assert (
        "CREATE INDEX IF NOT EXISTS idx_logs_entrega_entrega_id ON logs_entrega (entrega_id);"
        in result.output
    )
    assert (tmp_path / "turbina-index-advice.json").is_file()  # for the dashboard's Indexes page


@pytest.mark.postgres
def test_hypopg_fallback_note_comes_first(
    make_fretes_db: Callable[..., sa.Engine], capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_fretes_db(entregas=300, hypopg=False)
    url = engine.url.render_as_string(hide_password=False)
    assert main(["indexes", "advise", "--database-url", url, "--workload", str(WORKLOAD)]) == 0
    out = capsys.readouterr()
    for stream in (out.out, out.err):
        first = stream.splitlines()[0]
        assert first.startswith("turbina: note: HypoPG not installed"), stream
        assert "CREATE EXTENSION hypopg" in first
    assert out.out.count("HypoPG not installed") == 1
