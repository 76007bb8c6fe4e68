"""Slow relative to the app: share of DB time, mean over many calls, a full scan feeding a
sort — on real plans, and in ``turbina slow``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from turbina.flask.cli import turbina_group
from turbina.queries.slow import SlowRules, slow_statements
from turbina.queries.state import QueriesState

ROWS = 2000  # above LARGE_TABLE_ROWS: PostgreSQL's planner estimates a big sequential scan
SORTED = "SELECT id, v FROM slow_t ORDER BY v"
BY_KEY = "SELECT id, v FROM slow_t WHERE id = :id"


def _row(fingerprint: str, calls: int, total_ms: float, plan: Any = None) -> dict[str, Any]:
    return {
        "engine": "db",
        "fingerprint": fingerprint,
        "calls": calls,
        "total_ms": total_ms,
        "mean_ms": total_ms / calls,
        "p95_ms": total_ms / calls,
        "plan": plan,
    }


def test_the_three_rules() -> None:
    rows = [
        _row("select heavy", 10, 3000.0),  # 30% of the time
        _row("select pghero", 100, 2000.0),  # mean 20 ms over 100 calls
        _row("select many fast", 5000, 50.0),
        _row("select sorted", 3, 3.0, {"scan_feeds_sort": True}),
        _row("select fine", 99, 99 * 25.0),  # mean 25 ms, but fewer than 100 calls
    ]
    total = 10_000.0
    flagged = {s.row["fingerprint"]: s for s in slow_statements(rows, SlowRules(), total)}
    assert set(flagged) == {"select heavy", "select pghero", "select sorted", "select fine"}
    assert flagged["select heavy"].reasons == ("30% of DB time",)
    assert flagged["select pghero"].reasons == ("20% of DB time", "mean 20.0 ms over 100 calls")
    assert flagged["select sorted"].reasons == ("full scan feeds a sort",)
    assert flagged["select fine"].reasons == ("25% of DB time",)  # by its share only
    off = slow_statements(rows, SlowRules(share=0.0), total)
    assert {s.row["fingerprint"] for s in off} == {"select pghero", "select sorted"}


@pytest.fixture
def recorded(db_url: str) -> Iterator[tuple[QueriesState, sa.Engine]]:
    """A sorted scan and a key lookup, three runs each, recorded and EXPLAINed."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS slow_t"))
        conn.execute(sa.text("CREATE TABLE slow_t (id INTEGER PRIMARY KEY, v VARCHAR(20))"))
        conn.execute(
            sa.text("INSERT INTO slow_t (id, v) VALUES (:id, :v)"),
            [{"id": i, "v": f"v{(i * 7919) % ROWS}"} for i in range(ROWS)],
        )
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE slow_t"))
    # Only the plan rule: no share rule, and a mean rule no statement can meet (its
    # threshold 0 ms makes every run EXPLAINed).
    rules = SlowRules(share=0.0, mean_ms=0.0, min_calls=10**9)
    state = QueriesState(slow_query_ms=1e9, explain=True, slow_rules=rules)
    recorder = state.attach(engine, "db")
    with engine.connect() as conn:
        for i in range(3):
            conn.execute(sa.text(SORTED)).all()
            conn.execute(sa.text(BY_KEY), {"id": i}).all()
    assert recorder.explainer is not None and recorder.explainer.wait_idle()
    yield state, engine
    state.close()
    engine.dispose()


def test_a_full_scan_feeding_a_sort_is_flagged_with_its_plan(
    recorded: tuple[QueriesState, sa.Engine], tmp_path: Path
) -> None:
    state, _engine = recorded
    [flagged] = state.slow_statements()
    assert flagged.row["fingerprint"] == "select id, v from slow_t order by v"
    assert flagged.reasons == ("full scan feeds a sort",)
    assert any("slow_t" in warning for warning in flagged.row["plan"]["warnings"])

    path = tmp_path / "snap.json"
    state.save_snapshot(path)
    assert json.loads(path.read_text())["slow_rules"]["min_calls"] == 10**9
    result = CliRunner().invoke(turbina_group, ["slow", "--from", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "engine",
        "calls",
        "total_ms",
        "share",
        "mean_ms",
        "p95_ms",
        "why",
        "fingerprint",
    ]
    assert len([line for line in lines[2:] if line.startswith("db ")]) == 1
    assert "full scan feeds a sort" in lines[2] and lines[2].endswith("from slow_t order by v")
    plans = result.output.split("\nplans:\n", 1)[1].splitlines()
    assert plans[0] == "1. select id, v from slow_t order by v"
    assert any(line.startswith("   ! full scan feeds a sort: slow_t") for line in plans)


def test_statements_flagged_by_share_get_their_plan_from_the_cli(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE slow_t (id INTEGER PRIMARY KEY, v VARCHAR(20))"))
    # Never EXPLAINed in the background (no run reaches 1e9 ms); the share rule flags all.
    rules = SlowRules(share=0.0001, mean_ms=1e9, min_calls=1)
    state = QueriesState(slow_query_ms=1e9, explain=True, slow_rules=rules)
    state.attach(engine, "db")
    with engine.connect() as conn:
        conn.execute(sa.text(SORTED)).all()
    [flagged] = state.slow_statements()
    assert flagged.row["plan"] is None
    assert state.explain_unplanned() == 1  # what `turbina slow` does in the app's process
    [flagged] = state.slow_statements()
    assert flagged.reasons == ("100% of DB time", "full scan feeds a sort")
    state.close()
    engine.dispose()
