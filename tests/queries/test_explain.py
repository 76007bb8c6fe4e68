"""EXPLAIN: only SELECTs, once per fingerprint per interval, redacted summaries."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from turbina.queries.explain import ExplainWorker, is_explainable
from turbina.queries.state import QueriesState

from .conftest import seed


@pytest.mark.parametrize(
    "fingerprint",
    [
        "update q_authors set name = ? where id = ?",
        "delete from q_authors where id = ?",
        "insert into q_authors (id, name) values (?, ?)",
        "with gone as (delete from q_books returning id) select count(*) from gone",
        "select * into copy_table from q_authors",
        "select * from q_authors for update",
        "create table x (id int)",
    ],
)
def test_writes_are_never_explainable(fingerprint: str) -> None:
    assert not is_explainable(fingerprint)


def test_selects_are_explainable() -> None:
    assert is_explainable("select * from q_authors where id = ?")
    assert is_explainable("with a as (select 1) select * from a")


def test_slow_writes_are_not_explained_selects_are(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    seed(engine)
    state = QueriesState(slow_query_ms=0.0, explain=True, explain_interval_s=3600)
    recorder = state.attach(engine, "db")
    worker = recorder.explainer
    assert isinstance(worker, ExplainWorker)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE q_authors SET name = 'x' WHERE id = :i"), {"i": 1})
        conn.execute(sa.text("DELETE FROM q_reviews WHERE id = :i"), {"i": 101})
        conn.execute(
            sa.text("INSERT INTO q_books (id, title, author_id) VALUES (:i, 't', 1)"), {"i": 9999}
        )
        for i in range(3):
            conn.execute(sa.text("SELECT * FROM q_books WHERE author_id = :a"), {"a": i}).all()
    assert worker.wait_idle()
    assert worker.explained == 1  # one SELECT fingerprint, once per interval; no write
    assert worker.failed == 0
    plans = {e.fingerprint: e.plan for e in recorder.stats}
    select_plan = plans["select * from q_books where author_id = ?"]
    assert select_plan is not None and select_plan["nodes"]
    assert any("q_books" in node for node in select_plan["nodes"])
    for shape, plan in plans.items():
        if not shape.startswith("select"):
            assert plan is None, shape
    state.close()
    engine.dispose()


def test_sqlite_full_scan_is_flagged(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    seed(engine)
    summary = ExplainWorker(engine).explain("SELECT * FROM q_books WHERE title = ?", ("x",))
    assert summary["warnings"] and "SCAN q_books" in summary["warnings"][0]
    engine.dispose()


def test_no_background_explain_on_a_pool_that_shares_its_connection() -> None:
    """``sqlite://`` (StaticPool) hands every thread the one connection: a background EXPLAIN
    returning it would roll back the transaction the app has open on it."""
    engine = sa.create_engine("sqlite://")
    seed(engine, authors=2)
    state = QueriesState(slow_query_ms=0.0, explain=True, explain_interval_s=3600)
    recorder = state.attach(engine, "db")
    worker = recorder.explainer
    assert isinstance(worker, ExplainWorker)
    with engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO q_authors (id, name, email) VALUES (77, 'n', 'e')"))
        conn.execute(sa.text("SELECT * FROM q_books WHERE author_id = :a"), {"a": 1}).all()
        assert worker.wait_idle()
        assert conn.execute(sa.text("SELECT count(*) FROM q_authors WHERE id = 77")).scalar() == 1
        conn.commit()
    # Not attempted at all: on the shared connection the old worker failed (or rolled back).
    assert worker.explained == 0 and worker.failed == 0 and worker.skipped_shared_pool >= 1
    # Asked for in the calling thread (the dashboard, the CLI), a plan is still available.
    assert worker.explain("SELECT * FROM q_books WHERE author_id = ?", (1,))["nodes"]
    state.close()
    engine.dispose()
