"""``--verify``: build the advised indexes for real and measure the workload before and after.

Statements are SELECTs only (the workload never holds writes) and run with their sample
parameters; each is timed ``runs`` times and the median kept. Indexes this step created are
dropped again unless ``keep`` is set; indexes that already existed are never touched.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from turbina.indexes.ddl import TAG, ApplyResult, apply
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload import WorkloadQuery, redact

DEFAULT_RUNS = 5


@dataclass
class Measured:
    """Median wall time of one statement without and with the advised indexes."""

    query: WorkloadQuery
    before_ms: float
    after_ms: float

    @property
    def speedup(self) -> float:
        return self.before_ms / self.after_ms if self.after_ms > 0 else float("inf")


@dataclass
class Verification:
    """What ``verify`` measured and what it left in place."""

    measured: list[Measured] = field(default_factory=list)
    applied: ApplyResult = field(default_factory=ApplyResult)
    kept: bool = False

    @property
    def before_ms(self) -> float:
        return sum(m.before_ms * m.query.calls for m in self.measured)

    @property
    def after_ms(self) -> float:
        return sum(m.after_ms * m.query.calls for m in self.measured)

    def lines(self) -> list[str]:
        """One line per statement plus a total, prefixed like the advice report."""
        out = [
            f"turbina: verify: {m.before_ms:.2f} ms -> {m.after_ms:.2f} ms (x{m.speedup:.1f}) "
            f"{redact(m.query.sql)[:120]}"
            for m in self.measured
        ]
        total = self.before_ms / self.after_ms if self.after_ms else 0.0
        out.append(
            f"turbina: verify: workload {self.before_ms:.1f} ms -> {self.after_ms:.1f} ms (x{total:.2f}); "
            f"indexes {'kept' if self.kept else 'dropped again'}"
        )
        for spec, reason in self.applied.invalid:
            out.append(f"turbina: invalid: {spec.name} dropped: {reason}")
        return out


def time_query(raw: Any, query: WorkloadQuery, runs: int) -> float:
    """Median milliseconds of ``runs`` executions (rows fetched) on a raw DBAPI connection."""
    samples = []
    for _ in range(runs):
        cursor = raw.cursor()
        started = time.perf_counter()
        if query.params is None:
            cursor.execute(f"{TAG} {query.sql}")
        else:
            cursor.execute(f"{TAG} {query.sql}", query.params)
        cursor.fetchall()
        samples.append((time.perf_counter() - started) * 1000.0)
        cursor.close()
    return statistics.median(samples)


def time_workload(
    engine: sa.Engine, queries: Sequence[WorkloadQuery], runs: int = DEFAULT_RUNS
) -> list[float]:
    """Median time of each statement (one pinned connection, rolled back: reads only)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        times = [time_query(raw, q, runs) for q in queries if not q.generic]
        conn.rollback()
    return times


def verify(
    engine: sa.Engine,
    specs: Sequence[IndexSpec],
    queries: Sequence[WorkloadQuery],
    runs: int = DEFAULT_RUNS,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Measure, build ``specs`` (safely, see ``ddl.apply``), measure again, keep or drop."""
    say = progress or (lambda _line: None)
    timed = [q for q in queries if not q.generic]
    say(f"timing {len(timed)} statements without the new indexes")
    before = time_workload(engine, timed, runs)
    say(f"building {len(specs)} indexes")
    result = apply(engine, specs)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in sorted({s.table for s in result.created}):
                    conn.exec_driver_sql(f'{TAG} ANALYZE "{table}"')
        say("timing again with the indexes")
        after = time_workload(engine, timed, runs)
    finally:
        if not keep:
            drop_indexes(engine, result.created)
    return Verification(
        [Measured(q, b, a) for q, b, a in zip(timed, before, after, strict=True)], result, keep
    )


@dataclass(frozen=True)
class Verdict:
    """One advised index, measured: Σ calls × median time of the statements it helps,
    without and with the advised set."""

    spec: IndexSpec
    before_ms: float
    after_ms: float
    statements: int

    @property
    def speedup(self) -> float:
        return self.before_ms / self.after_ms if self.after_ms > 0 else float("inf")

    @property
    def slower(self) -> bool:
        """Measured, and slower (or no faster) than without it: ``apply`` refuses it."""
        return self.statements > 0 and self.speedup < 1.0


def verdicts(recommendations: Sequence[Any], verification: Verification) -> list[Verdict]:
    """Per advised index (``Recommendation``: ``spec``, ``queries``), its measured speedup."""
    measured = {m.query.key: m for m in verification.measured}
    out = []
    for rec in recommendations:
        hits = [measured[e.query.key] for e in rec.queries if e.query.key in measured]
        before = sum(m.before_ms * m.query.calls for m in hits)
        after = sum(m.after_ms * m.query.calls for m in hits)
        out.append(Verdict(rec.spec, before, after, len(hits)))
    return out


@dataclass
class Applied:
    """What ``apply_verified`` built, kept and refused."""

    verification: Verification
    verdicts: list[Verdict]
    kept: list[IndexSpec]
    refused: list[Verdict]

    def lines(self) -> list[str]:
        out = []
        for verdict in self.verdicts:
            measured = (
                f"x{verdict.speedup:.2f} on its {verdict.statements} statement(s)"
                if verdict.statements
                else "not measured (no statement with sample values)"
            )
            if verdict in self.refused:
                out.append(
                    f"turbina: refused: {verdict.spec.name}: verified {measured}, slower than "
                    "without it; dropped again (fix: --force builds it anyway)"
                )
            else:
                out.append(
                    f"turbina: created: {verdict.spec.name} ON {verdict.spec.describe()} ({measured})"
                )
        for spec, reason in self.verification.applied.invalid:
            out.append(f"turbina: invalid: {spec.name} dropped: {reason}")
        return out


def apply_verified(
    engine: sa.Engine,
    recommendations: Sequence[Any],
    queries: Sequence[WorkloadQuery],
    runs: int = DEFAULT_RUNS,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Applied:
    """Build the advised indexes, measure the workload, and keep each index only when the
    statements it helps got faster (speedup >= 1), unless ``force``. Indexes that existed
    before are never dropped."""
    specs = [r.spec for r in recommendations]
    result = verify(engine, specs, queries, runs=runs, keep=True, progress=progress)
    judged = verdicts(recommendations, result)
    created = set(result.applied.created)
    refused = [v for v in judged if v.slower and not force and v.spec in created]
    drop_indexes(engine, [v.spec for v in refused])
    kept = [s for s in result.applied.created if s not in {v.spec for v in refused}]
    return Applied(result, judged, kept, refused)


def drop_indexes(engine: sa.Engine, specs: Sequence[IndexSpec]) -> None:
    """Drop indexes by name (CONCURRENTLY on PostgreSQL)."""
    concurrently = "CONCURRENTLY " if engine.dialect.name == "postgresql" else ""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for spec in specs:
            conn.exec_driver_sql(f"{TAG} DROP INDEX {concurrently}IF EXISTS {spec.name}")
