"""QueryRecorder on real SQLite and PostgreSQL: stats, tagging, isolation, bounds, redaction."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
import sqlalchemy as sa

from turbina.errors import TurbinaError
from turbina.queries.context import collect
from turbina.queries.recorder import QueryRecorder
from turbina.queries.state import QueriesState

from .conftest import Author, seed


def test_records_stats_per_fingerprint(engine: sa.Engine) -> None:
    recorder: QueryRecorder = engine.dialect._turbina_recorder  # type: ignore[attr-defined]
    recorder.reset()
    stmt = sa.select(Author.__table__).where(Author.__table__.c.id == sa.bindparam("i"))
    with engine.connect() as conn, collect() as collector:
        for i in range(1, 8):
            assert conn.execute(stmt, {"i": i}).one().id == i
    [entry] = [e for e in recorder.stats if "from q_authors" in e.fingerprint]
    assert entry.calls == 7
    assert entry.histogram.count == 7
    assert entry.total_ms > 0
    assert "where q_authors.id = ?" in entry.fingerprint
    assert collector.count == 7
    assert collector.fingerprints == {entry.fingerprint: 7}
    [sample] = [s for s in recorder.workload_samples() if s.fingerprint == entry.fingerprint]
    assert sample.calls == 7 and sample.dialect == engine.dialect.name
    assert sample.parameters  # one raw parameter set, in memory only


def test_turbina_tagged_sql_is_not_recorded(engine: sa.Engine) -> None:
    recorder: QueryRecorder = engine.dialect._turbina_recorder  # type: ignore[attr-defined]
    recorder.reset()
    with engine.connect() as conn, collect() as collector:
        conn.exec_driver_sql("/* turbina */ SELECT count(*) FROM q_authors").scalar()
    assert len(recorder.stats) == 0
    assert collector.count == 0


def test_executemany_and_no_params_paths(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    recorder = QueryRecorder(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute(
            sa.text("INSERT INTO t (id, v) VALUES (:i, :v)"), [{"i": i, "v": "x"} for i in range(5)]
        )
    shapes = {e.fingerprint: e for e in recorder.stats}
    assert "create table t (id integer primary key, v text)" in shapes
    assert shapes["insert into t (id, v) values (?, ?)"].rows == 5
    recorder.close()
    assert "do_execute" not in engine.dialect.__dict__
    engine.dispose()


def test_second_recorder_on_one_engine_is_refused(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    first = QueryRecorder(engine)
    with pytest.raises(TurbinaError, match="already has a QueryRecorder"):
        QueryRecorder(engine)
    assert QueryRecorder.for_engine(engine) is first
    first.close()


def test_recorder_failure_never_breaks_the_query(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: str) -> str:
        raise RuntimeError("fingerprinter exploded")

    engine = sa.create_engine(sqlite_url)
    recorder = QueryRecorder(engine, fingerprinter=broken)
    with caplog.at_level(logging.ERROR, logger="turbina.queries"), engine.connect() as conn:
        for i in range(3):
            assert conn.execute(sa.text(f"SELECT {i} + 1 AS c{i}")).scalar() == i + 1
    assert recorder.errors == 3
    assert len([r for r in caplog.records if "recording failed" in r.getMessage()]) == 1
    recorder.close()
    engine.dispose()


def test_failing_query_still_raises_its_own_error(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    recorder = QueryRecorder(engine)
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
        conn.exec_driver_sql("SELECT * FROM no_such_table")
    assert recorder.errors == 0
    recorder.close()


@pytest.mark.slow
def test_100k_distinct_statements_stay_bounded() -> None:
    engine = sa.create_engine("sqlite://")
    state = QueriesState(max_fingerprints=500, slow_log_size=50, slow_query_ms=1e9, explain=False)
    recorder = state.attach(engine, "mem")
    # Drive the wrapped dialect method with a real SQLite cursor: the recorder's own path,
    # without the Connection overhead that would make 100k statements slow to test.
    do_execute = engine.dialect.do_execute
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

        def run(start: int, stop: int) -> None:
            for i in range(start, stop):
                do_execute(cursor, f"SELECT {i} AS c{i}", (), None)

        run(0, 50_000)
        tracemalloc.start()
        try:
            run(50_000, 60_000)
            warm, _ = tracemalloc.get_traced_memory()
            run(60_000, 100_000)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(recorder.stats) <= 500
    assert len(recorder.cache) <= recorder.cache.capacity
    assert recorder.stats.evicted >= 99_000
    # Memory after 100k distinct statements is what it was after 60k: no growth with input.
    assert after - warm < 1_000_000, after - warm

    recorder.slow_query_ms = 0.0  # now every statement is slow: the log keeps the newest 50
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for i in range(2_000):
            do_execute(cursor, f"SELECT {i} AS s{i}", (), None)
    assert len(state.slow_log) == 50
    assert state.slow_log.total == 2_000
    assert state.slow_log.entries()[0].sql == "select ? as s1999"
    state.close()
    engine.dispose()


def test_no_literal_leaves_the_process(db_url: str) -> None:
    email, cpf = "maria.silva@example.com.br", "123.456.789-09"
    engine = sa.create_engine(db_url)
    seed(engine, authors=2)
    state = QueriesState(slow_query_ms=0.0, explain=True, nplusone_threshold=2)
    recorder = state.attach(engine, "db")
    sql = f"SELECT id FROM q_authors WHERE email = '{email}' OR name = '{cpf}'"
    with engine.connect() as conn, collect("/x") as collector:
        for _ in range(3):
            conn.exec_driver_sql(sql).all()
            conn.execute(
                sa.text("SELECT id FROM q_authors WHERE email = :e OR name = :c"),
                {"e": email, "c": cpf},
            ).all()
    assert recorder.explainer is not None and recorder.explainer.wait_idle()
    state.finish(collector)
    shown = (
        repr(state.snapshot())
        + repr(state.slow_log.entries())
        + repr([e.summary() for e in recorder.stats])
    )
    shown += repr([f.to_dict() for f in state.findings.all()])
    assert recorder.explainer.explained >= 1
    assert "q_authors" in shown
    for secret in (email, cpf, "maria", "789-09", "silva@"):  # fragments no timing can contain
        assert secret not in shown
    state.close()
    engine.dispose()


def test_constant_parameters_are_the_ones_every_call_agreed_on(db_url: str) -> None:
    """The evidence a partial index needs: which placeholders took one value on every call,
    on SQLite (positional) and PostgreSQL (named) parameters alike."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, kind TEXT, owner INTEGER)")
    recorder = QueryRecorder(engine)
    stmt = sa.text("SELECT id FROM ev WHERE owner = :owner AND kind = :kind")
    few = sa.text("SELECT id FROM ev WHERE kind = :kind AND owner > :owner")
    with engine.connect() as conn:
        for i in range(200):
            conn.execute(stmt, {"owner": i, "kind": "billing"}).all()
        for _ in range(3):  # too few calls: no evidence either way
            conn.execute(few, {"owner": 1, "kind": "billing"}).all()
    samples = {s.fingerprint: s for s in recorder.workload_samples()}
    [main] = [s for f, s in samples.items() if "owner = ?" in f or "owner = %(owner)s" in f]
    kind_key = "kind" if isinstance(main.parameters, dict) else "1"
    assert main.constant_parameters == {kind_key}  # owner varied, kind never did
    [short] = [s for f, s in samples.items() if "owner >" in f]
    assert short.constant_parameters == frozenset()
    recorder.close()
    engine.dispose()


def test_a_constant_seen_to_vary_late_is_dropped(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, kind TEXT)")
    recorder = QueryRecorder(engine)
    stmt = sa.text("SELECT id FROM ev WHERE kind = :kind")
    with engine.connect() as conn:
        for _ in range(100):
            conn.execute(stmt, {"kind": "billing"}).all()
        [before] = recorder.workload_samples()
        assert before.constant_parameters == {"0"}
        for _ in range(40):  # past the first 64 calls only one call in 32 is checked
            conn.execute(stmt, {"kind": "other"}).all()
    [after] = recorder.workload_samples()
    assert after.constant_parameters == frozenset()
    recorder.close()
    engine.dispose()
