"""What-if costing: the workload's cost as if a set of indexes existed.

``HypoPGBackend`` creates hypothetical indexes (``hypopg_create_index``) on one pinned
connection and reads the planner's total cost from ``EXPLAIN (FORMAT JSON)``.
``TransactionBackend`` builds real indexes inside a transaction that is always rolled back
(PostgreSQL and SQLite DDL are transactional), under ``statement_timeout``/``lock_timeout``
and a size guard. On SQLite, which has no cost estimate, a statement's cost is its measured
time, cached by plan shape (``EXPLAIN QUERY PLAN``) so each distinct plan is timed once.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import sqlalchemy as sa

from turbina.errors import TurbinaError
from turbina.indexes.ddl import create_sql
from turbina.indexes.generic import generic_plan, plan_json
from turbina.indexes.sizes import PostgresSizer
from turbina.indexes.spec import IndexSpec
from turbina.indexes.workload import TAG, WorkloadQuery

STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 2_000
_TIMING_RUNS = 3
MAX_NOTES = 50
# Maintaining one index entry for one written row, in the planner's units: the page it
# dirties (seq_page_cost: the WAL record and the later write are sequential) plus the tuple
# and one comparison per btree level. SQLite: what its own cost model charges for a one-row
# lookup. The measured path (SQLite timings, in ms): 10 µs per entry.
SQLITE_MEASURED_ENTRY_MS = 0.01


class CandidateRejected(TurbinaError):
    """A candidate could not be costed (size guard, failed build); the advisor skips it."""


class WhatIfBackend:
    """Shared part: a pinned autocommit connection, schema facts and raw-cursor execution."""

    name = "base"
    # A statement counts for the per-statement threshold when its cost without a new index
    # is at least this (PostgreSQL planner units, as Dexter's --min-cost).
    min_statement_cost = 100.0

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.raw: Any = self.conn.connection.dbapi_connection
        self.size_guard: int | None = None
        self.notes: list[str] = []
        self._fractions: dict[tuple[str, str], float] = {}
        self._row_counts: dict[str, float] = {}
        self.errors: dict[str, str] = {}  # statement key -> why it could not be planned
        if self.dialect == "postgresql":
            self._run(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            self._run(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")

    def _note(self, message: str) -> None:
        if message not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(message)

    def _failed(self, query: WorkloadQuery, exc: Exception) -> None:
        """Remember why ``query`` could not be planned (the advisor reports it as skipped)."""
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = first[0][:160] if first else exc.__class__.__name__
        self.errors.setdefault(query.key, f"cannot be planned: {detail}")

    @property
    def supports_include(self) -> bool:
        return self.dialect == "postgresql"

    def close(self) -> None:
        """Give the connection back (hypothetical indexes die with the session state)."""
        self.conn.close()

    def _run(self, sql: str, params: Any = None) -> list[Any]:
        cursor = self.raw.cursor()
        try:
            if params is None:
                cursor.execute(f"{TAG} {sql}")
            else:
                cursor.execute(f"{TAG} {sql}", params)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    # --- schema facts --------------------------------------------------------------------
    def schema(self) -> dict[str, set[str]]:
        inspector = sa.inspect(self.conn)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }

    def existing_indexes(self) -> list[IndexSpec]:
        """Indexes and key constraints already in the database, as specs."""
        inspector = sa.inspect(self.conn)
        specs: list[IndexSpec] = []
        invalid: set[str] = set()
        if self.dialect == "postgresql":  # the planner ignores INVALID indexes, so do we
            invalid = {
                r[0]
                for r in self._run(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"
                )
            }
        for table in inspector.get_table_names():
            pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
            if pk:
                specs.append(IndexSpec(table, tuple(pk), unique=True))
            for uc in inspector.get_unique_constraints(table):
                specs.append(IndexSpec(table, tuple(uc["column_names"]), unique=True))
            for ix in inspector.get_indexes(table):
                columns = ix.get("column_names") or []
                if not columns or any(c is None for c in columns) or ix["name"] in invalid:
                    continue  # expression index: not comparable to column candidates
                options = ix.get("dialect_options") or {}
                where = options.get("postgresql_where")
                if where is None:
                    where = options.get("sqlite_where")
                include = tuple(
                    options.get("postgresql_include") or ix.get("include_columns") or ()
                )
                specs.append(
                    IndexSpec(
                        table,
                        tuple(c for c in columns if c),
                        include,
                        str(where) if where is not None else None,
                        bool(ix.get("unique")),
                    )
                )
        return specs

    def table_bytes(self, tables: Collection[str]) -> int:
        """On-disk size of the given tables (the default budget is a share of it)."""
        total = 0
        for table in tables:
            if self.dialect == "postgresql":
                rows = self._run("SELECT pg_table_size(to_regclass(%s))", (table,))
            else:
                rows = self._sqlite_size(table)
            total += int(rows[0][0] or 0) if rows else 0
        return total

    def _sqlite_size(self, name: str) -> list[Any]:
        try:
            return self._run("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (name,))
        except Exception:  # dbstat is a compile-time option of SQLite
            return [(0,)]

    def fraction(self, table: str, predicate: str) -> float:
        """Share of ``table``'s rows matching ``predicate`` (for partial-index candidates)."""
        key = (table, predicate)
        if key not in self._fractions:
            rows = self._run(
                f'SELECT avg(CASE WHEN {predicate} THEN 1.0 ELSE 0.0 END) FROM "{table}"'
            )
            found = rows[0][0] if rows else None
            self._fractions[key] = float(found) if found is not None else 1.0
        return self._fractions[key]

    def row_count(self, table: str) -> float:
        """Rows of ``table`` (PostgreSQL: the planner's estimate)."""
        if table not in self._row_counts:
            if self.dialect == "postgresql":
                found = self._run(
                    "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass(%s)",
                    (table,),
                )
            else:
                found = self._run(f'SELECT count(*) FROM "{table}"')
            self._row_counts[table] = float(found[0][0]) if found else 0.0
        return self._row_counts[table]

    def entry_cost(self, table: str) -> float:
        """Cost of maintaining one index entry of ``table`` for one written row, in the unit of
        ``costs()`` (see the module constants)."""
        if self.dialect != "postgresql":
            return math.log2(self.row_count(table) + 1) + 2.0
        if not hasattr(self, "_pg_costs"):
            found = self._run(
                "SELECT current_setting('seq_page_cost')::float8, "
                "current_setting('cpu_index_tuple_cost')::float8, "
                "current_setting('cpu_operator_cost')::float8"
            )
            self._pg_costs = tuple(float(x) for x in found[0])
        page, tuple_, operator = self._pg_costs
        return page + tuple_ + operator * math.log2(self.row_count(table) + 2)

    def distinct_count(self, table: str, column: str) -> int:
        """Number of distinct values of ``table.column`` (for partial-index vocabularies)."""
        rows = self._run(f'SELECT count(DISTINCT "{column}") FROM "{table}"')
        return int(rows[0][0]) if rows else 0

    def analyze_if_missing(self, tables: Collection[str]) -> list[str]:
        """ANALYZE tables the planner has no statistics for (PostgreSQL); returns their names."""
        if self.dialect != "postgresql" or not tables:
            return []
        rows = self._run(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL",
            (list(tables),),
        )
        for (name,) in rows:
            self._run(f'ANALYZE "{name}"')
        return [row[0] for row in rows]

    # --- costing ---------------------------------------------------------------------------
    def costs(
        self, indexes: Collection[IndexSpec], queries: Sequence[WorkloadQuery]
    ) -> tuple[list[float | None], dict[IndexSpec, int]]:
        """Cost of each query (None = could not be planned) and the size of each index, as if
        ``indexes`` existed."""
        raise NotImplementedError

    def _explain_pg(self, query: WorkloadQuery) -> float | None:
        try:
            if query.generic:
                return self._explain_generic(query)
            rows = self._run(f"EXPLAIN (FORMAT JSON) {query.sql}", query.params)
        except Exception as exc:
            self._failed(query, exc)
            return None
        plan = rows[0][0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return float(plan[0]["Plan"]["Total Cost"])

    def _explain_generic(self, query: WorkloadQuery) -> float:
        plan = plan_json(generic_plan(self._run, query.sql))
        return float(plan[0]["Plan"]["Total Cost"])


class HypoPGBackend(WhatIfBackend):
    """Hypothetical indexes: nothing is built, nothing is locked beyond planning."""

    name = "hypopg"

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        if self.dialect != "postgresql":
            self.close()
            raise TurbinaError("HypoPG needs PostgreSQL", "use --backend transaction on SQLite")
        if not self._run("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'"):
            self.close()
            raise TurbinaError(
                "the hypopg extension is not installed in this database",
                "run CREATE EXTENSION hypopg (Debian: apt install postgresql-15-hypopg)",
            )
        self._run("SELECT hypopg_reset()")
        self._sizes: dict[IndexSpec, int] = {}
        # HypoPG's own size runs ~50 % high for composite and INCLUDE indexes: sizes come
        # from the on-disk format and the statistics instead (turbina.indexes.sizes).
        self.sizer = PostgresSizer(self._run, self.fraction)

    def costs(
        self, indexes: Collection[IndexSpec], queries: Sequence[WorkloadQuery]
    ) -> tuple[list[float | None], dict[IndexSpec, int]]:
        # One round trip creates every hypothetical index; the session is always left clean
        # (reset in finally), so no reset is needed before.
        ordered = list(indexes)
        try:
            if ordered:
                try:
                    self._run(
                        "SELECT h.indexrelid FROM unnest(%s::text[]) "
                        "WITH ORDINALITY AS d(ddl, n), LATERAL hypopg_create_index(d.ddl) h "
                        "ORDER BY d.n",
                        ([create_sql(spec, "postgresql") for spec in ordered],),
                    )
                except Exception as exc:
                    raise CandidateRejected(
                        f"HypoPG refused {'; '.join(s.describe() for s in ordered)}: "
                        f"{str(exc).splitlines()[0]}",
                        "nothing to do: the advisor skips this candidate",
                    ) from None
                for spec in ordered:
                    if spec not in self._sizes:
                        self._sizes[spec] = self.sizer.size(spec)
            return [self._explain_pg(q) for q in queries], {s: self._sizes[s] for s in ordered}
        finally:
            if ordered:
                self._run("SELECT hypopg_reset()")

    def close(self) -> None:
        with suppress(Exception):
            self._run("SELECT hypopg_reset()")
        super().close()


class TransactionBackend(WhatIfBackend):
    """Real indexes built in a transaction that is rolled back after costing."""

    name = "transaction"

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        if self.dialect == "sqlite":
            self.min_statement_cost = 1.0  # measured milliseconds here
        self._sizes: dict[IndexSpec, int] = {}
        self._timings: dict[tuple[str, str], float] = {}
        self._rows: dict[str, int] = {}

    @contextmanager
    def _built(self, indexes: Collection[IndexSpec]) -> Iterator[None]:
        self._run("BEGIN")
        try:
            for spec in indexes:
                self._guard(spec)
                try:
                    self._run(create_sql(spec, self.dialect))
                except Exception as exc:
                    raise CandidateRejected(
                        f"cannot build {spec.describe()}: {exc.__class__.__name__}",
                        "check the statement timeout and the table's locks",
                    ) from None
                if spec not in self._sizes:
                    self._sizes[spec] = self._built_size(spec)
            yield
        finally:
            self._run("ROLLBACK")

    def entry_cost(self, table: str) -> float:
        if self.dialect == "sqlite":
            return SQLITE_MEASURED_ENTRY_MS  # costs are measured milliseconds here
        return super().entry_cost(table)

    def _guard(self, spec: IndexSpec) -> None:
        if self.size_guard is None:
            return
        if spec.table not in self._rows:
            self._rows[spec.table] = int(self._run(f'SELECT count(*) FROM "{spec.table}"')[0][0])
        estimate = self._rows[spec.table] * (16 + 8 * (len(spec.columns) + len(spec.include)))
        if estimate > self.size_guard:
            raise CandidateRejected(
                f"building {spec.describe()} (about {estimate} bytes) exceeds the size guard",
                "raise --budget or install HypoPG (CREATE EXTENSION hypopg) to cost without building",
            )

    def _built_size(self, spec: IndexSpec) -> int:
        if self.dialect == "postgresql":
            return int(
                self._run("SELECT pg_relation_size(to_regclass(%s))", (spec.name,))[0][0] or 0
            )
        return int(self._sqlite_size(spec.name)[0][0] or 0)

    def costs(
        self, indexes: Collection[IndexSpec], queries: Sequence[WorkloadQuery]
    ) -> tuple[list[float | None], dict[IndexSpec, int]]:
        with self._built(indexes):
            if self.dialect == "postgresql":
                out = [self._savepointed(q) for q in queries]
            else:
                out = [self._timed_sqlite(q) for q in queries]
        return out, {s: self._sizes[s] for s in indexes}

    def _savepointed(self, query: WorkloadQuery) -> float | None:
        self._run("SAVEPOINT turbina_q")
        cost = self._explain_pg(query)
        self._run("ROLLBACK TO SAVEPOINT turbina_q")
        return cost

    def _timed_sqlite(self, query: WorkloadQuery) -> float | None:
        try:
            plan = self._run(f"EXPLAIN QUERY PLAN {query.sql}", query.params)
        except Exception as exc:
            self._failed(query, exc)
            return None
        shape = "|".join(str(row[-1]) for row in plan)
        key = (query.key, shape)
        if key not in self._timings:
            best = float("inf")
            for _ in range(_TIMING_RUNS):
                started = time.perf_counter()
                self._run(query.sql, query.params)
                best = min(best, (time.perf_counter() - started) * 1000.0)
            self._timings[key] = best
        return self._timings[key]
