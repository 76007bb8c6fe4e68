"""Hypothetical indexes for SQLite, the way ``sqlite3_expert`` does it.

SQLite has neither HypoPG nor plan costs. A schema-only copy of the database lives in memory;
there an index on an empty table is created instantly, and statistics (``sqlite_stat1``: rows,
rows per key prefix) taken from the real data make SQLite's own planner choose the plan it
would choose on the real tables. ``EXPLAIN QUERY PLAN`` then gives that plan and a small cost
model turns it into a number: rows visited per loop level, times the rows of the outer levels,
plus sorts in temporary b-trees. Nothing is built or written in the real database.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.indexes.ddl import create_sql
from turbina.indexes.spec import IndexSpec
from turbina.indexes.whatif import WhatIfBackend
from turbina.indexes.workload import WorkloadQuery

RANGE_SELECTIVITY = 0.25  # SQLite's own guess for an inequality
LIMIT_FILTER_FACTOR = 10  # rows scanned per row kept when a LIMIT stops an ordered scan
# Index sizes follow SQLite's file format (https://sqlite.org/fileformat2.html): an index entry
# is a cell on a b-tree page — a 2-byte cell pointer, the payload length as a varint, and a
# record: its header (a header-size byte and one serial-type byte per column, the rowid being the
# last column) and the values in their serial types (integers in 0-8 bytes by magnitude, 0 and 1
# in none, reals 8, text and blobs their length). CREATE INDEX feeds the b-tree in sorted order, so
# pages come out full (see ``btree_pages``). One aggregate scan of the table gives the exact
# payload total; checked against real builds in tests/indexes/test_sqlite_sizes.py.
_PAGE_HEADER = 8  # bytes of a leaf page's header (interior pages: 12)


def _integer_bytes(expr: str) -> str:
    return (
        f"(CASE WHEN {expr} IS NULL OR {expr} IN (0, 1) THEN 0 WHEN abs({expr}) < 128 THEN 1 "
        f"WHEN abs({expr}) < 32768 THEN 2 WHEN abs({expr}) < 8388608 THEN 3 "
        f"WHEN abs({expr}) < 2147483648 THEN 4 WHEN abs({expr}) < 140737488355328 THEN 6 "
        "ELSE 8 END)"
    )


def _value_bytes(column: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    return (
        f"(CASE typeof({quoted}) WHEN 'integer' THEN {_integer_bytes(quoted)} "
        f"WHEN 'real' THEN 8 WHEN 'null' THEN 0 ELSE length(CAST({quoted} AS BLOB)) END)"
    )


def _cell_bytes_sql(columns: Sequence[str]) -> str:
    """SQL for one index entry's bytes on a leaf page (cell pointer + payload varint + record)."""
    header = 1 + len(columns) + 1  # header-size byte, a serial type per column and the rowid's
    payload = (
        f"({header} + {' + '.join(_value_bytes(c) for c in columns)} + {_integer_bytes('rowid')})"
    )
    return f"(2 + (CASE WHEN {payload} < 128 THEN 1 WHEN {payload} < 16384 THEN 2 ELSE 3 END) + {payload})"


def btree_pages(total_cell_bytes: float, entries: float, page_size: int) -> int:
    """Pages of an index b-tree built in key order from ``entries`` cells of ``total_cell_bytes``.

    Each entry is stored once: the divider between two pages is an entry moved up a level (with a
    4-byte child pointer), not a copy. A page ends, on average, half a cell short of full (the
    next cell did not fit); with small keys that is nothing, with 200-byte keys ~3 %.
    """
    if entries <= 0:
        return 1
    cell = total_cell_bytes / entries
    header = _PAGE_HEADER
    level_entries, pages = float(entries), 0
    while True:
        per_page = page_size - header - cell / 2
        level_pages = max(1, math.ceil(level_entries * cell / per_page))
        if level_pages == 1:
            return pages + 1
        dividers = level_pages - 1  # moved up to the next level
        pages += max(1, math.ceil((level_entries - dividers) * cell / per_page))
        level_entries, cell, header = float(dividers), cell + 4, 12


_LOOP = re.compile(
    r"^(SCAN|SEARCH) (\S+)(?: USING (?:(COVERING|AUTOMATIC COVERING|AUTOMATIC) )?INDEX (\S+)?)?"
    r"(?: USING (INTEGER PRIMARY KEY|PRIMARY KEY))?(?: \((.*)\))?"
)


class SQLiteHypotheticalBackend(WhatIfBackend):
    """What-if costing on SQLite without building anything on the real tables."""

    name = "sqlite-hypothetical"
    min_statement_cost = 5000.0  # estimated rows visited: about what 100 PostgreSQL units read

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self.shadow = sqlite3.connect(":memory:", isolation_level=None)
        for (sql,) in self._run(
            "SELECT sql FROM sqlite_master WHERE type IN ('table', 'index') "
            "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, rowid"
        ):
            self.shadow.execute(sql)
        self.stats = self._real_stats()
        self.rows = {tbl: int(stat.split()[0]) for tbl, idx, stat in self.stats if idx is None}
        self.index_stats = {
            idx: [int(x) for x in stat.split()[:8] if x.isdigit()]
            for _tbl, idx, stat in self.stats
            if idx is not None
        }
        self.shadow.execute("ANALYZE")  # creates the shadow's sqlite_stat1
        self._distinct: dict[tuple[str, tuple[str, ...], str | None], int] = {}
        self._sizes: dict[IndexSpec, int] = {}
        self.page_size = int(self._run("PRAGMA page_size")[0][0])
        self._aliases: dict[str, dict[str, str]] = {}
        self._stats_cache: dict[IndexSpec, list[int]] = {}

    def _real_stats(self) -> list[tuple[str, str | None, str]]:
        if self._run("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"):
            rows = self._run("SELECT tbl, idx, stat FROM sqlite_stat1")
            if rows:
                return [tuple(r) for r in rows]
        # ANALYZE inside a rolled-back transaction: statistics read, nothing left behind.
        self._run("BEGIN")
        try:
            self._run("ANALYZE")
            return [tuple(r) for r in self._run("SELECT tbl, idx, stat FROM sqlite_stat1")]
        finally:
            self._run("ROLLBACK")

    def close(self) -> None:
        self.shadow.close()
        super().close()

    # --- statistics of hypothetical indexes ------------------------------------------------
    def _table_rows(self, table: str) -> int:
        if table not in self.rows:
            self.rows[table] = int(self._run(f'SELECT count(*) FROM "{table}"')[0][0])
        return self.rows[table]

    def _count_distinct(self, table: str, columns: tuple[str, ...], where: str | None) -> int:
        key = (table, columns, where)
        if key not in self._distinct:
            cols = ", ".join(f'"{c}"' for c in columns)
            filt = f" WHERE {where}" if where else ""
            sql = f'SELECT count(*) FROM (SELECT DISTINCT {cols} FROM "{table}"{filt})'
            self._distinct[key] = max(int(self._run(sql)[0][0]), 1)
        return self._distinct[key]

    def _stat(self, spec: IndexSpec) -> list[int]:
        if spec not in self._stats_cache:
            self._stats_cache[spec] = self._compute_stat(spec)
        return self._stats_cache[spec]

    def _compute_stat(self, spec: IndexSpec) -> list[int]:
        rows = self._table_rows(spec.table)
        if spec.where:
            rows = int(self._run(f'SELECT count(*) FROM "{spec.table}" WHERE {spec.where}')[0][0])
        out = [max(rows, 1)]
        for k in range(1, len(spec.columns) + 1):
            out.append(
                max(
                    1,
                    math.ceil(
                        rows / self._count_distinct(spec.table, spec.columns[:k], spec.where)
                    ),
                )
            )
        return out

    def _size(self, spec: IndexSpec, stat: list[int]) -> int:
        """Bytes of ``spec`` if built (SQLite has no INCLUDE: only the key columns are stored)."""
        del stat  # the exact entry count is part of the scan below
        if spec not in self._sizes:
            where = f" WHERE {spec.where}" if spec.where else ""
            total, entries = self._run(
                f"SELECT coalesce(sum({_cell_bytes_sql(spec.columns)}), 0), count(*) "
                f'FROM "{spec.table}"{where}'
            )[0]
            self._sizes[spec] = btree_pages(float(total), float(entries), self.page_size) * (
                self.page_size
            )
        return self._sizes[spec]

    # --- costing ---------------------------------------------------------------------------
    def costs(
        self, indexes: Collection[IndexSpec], queries: Sequence[WorkloadQuery]
    ) -> tuple[list[float | None], dict[IndexSpec, int]]:
        sizes: dict[IndexSpec, int] = {}
        stats = dict(self.index_stats)
        self.shadow.execute("BEGIN")
        try:
            for spec in indexes:
                stat = self._stat(spec)
                stats[spec.name] = stat
                sizes[spec] = self._size(spec, stat)
                self.shadow.execute(create_sql(spec, "sqlite"))
            self.shadow.execute("DELETE FROM sqlite_stat1")
            self.shadow.executemany(
                "INSERT INTO sqlite_stat1 VALUES (?, ?, ?)", self._stat_rows(indexes, stats)
            )
            self.shadow.execute("ANALYZE sqlite_schema")  # reload the statistics into the planner
            out = [self._plan_cost(q, stats) for q in queries]
        finally:
            self.shadow.execute("ROLLBACK")
        return out, sizes

    def _stat_rows(
        self, indexes: Collection[IndexSpec], stats: dict[str, list[int]]
    ) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [(t, i, s) for t, i, s in self.stats]
        rows += [(spec.table, spec.name, " ".join(map(str, stats[spec.name]))) for spec in indexes]
        return rows

    def _plan_cost(self, query: WorkloadQuery, stats: dict[str, list[int]]) -> float | None:
        try:
            cursor = self.shadow.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params or ())
            plan = cursor.fetchall()
        except sqlite3.Error as exc:
            self._failed(query, exc)
            return None
        children: dict[int, list[tuple[int, str]]] = {}
        for node_id, parent, _unused, detail in plan:
            children.setdefault(parent, []).append((node_id, detail))
        aliases = self._alias_map(query)
        cost, rows, sorted_ = self._level(0, children, aliases, stats)
        limit = _limit(query.sql)
        if limit is not None and not sorted_ and rows > 0:
            cost *= min(1.0, limit * LIMIT_FILTER_FACTOR / rows)
        return cost

    def _level(
        self,
        parent: int,
        children: dict[int, list[tuple[int, str]]],
        aliases: dict[str, str],
        stats: dict[str, list[int]],
    ) -> tuple[float, float, bool]:
        """(cost, rows produced, whether a temp b-tree sorts) of the loops under ``parent``."""
        cost, outer, sorts = 0.0, 1.0, False
        for node_id, detail in children.get(parent, []):
            match = _LOOP.match(detail)
            if match:
                step, produced = self._loop_cost(match, aliases, stats)
                cost += outer * step
                outer *= max(produced, 1.0)
            elif detail.startswith("USE TEMP B-TREE"):
                sorts = True
                cost += outer * math.log2(outer + 1) * (0.3 if "RIGHT PART" in detail else 1.0)
            else:  # subqueries, co-routines, compound parts: their own loops
                sub_cost, _rows, _sorted = self._level(node_id, children, aliases, stats)
                cost += (outer if "CORRELATED" in detail else 1.0) * sub_cost
        return cost, outer, sorts

    def _loop_cost(
        self, match: re.Match[str], aliases: dict[str, str], stats: dict[str, list[int]]
    ) -> tuple[float, float]:
        kind, name, flavour, index, pk, terms = match.groups()
        rows = float(self._table_rows(aliases[name])) if name in aliases else 1000.0
        covering = bool(flavour and "COVERING" in flavour)
        stat = stats.get(index or "", [int(rows)])
        if kind == "SCAN":
            if index is None:
                return rows, rows
            return stat[0] * (0.5 if covering else 2.0), float(stat[0])
        if pk:
            return math.log2(rows + 1), 1.0
        parts = (terms or "").split(" AND ")
        equal = sum(1 for p in parts if re.search(r"[^<>!]=", p))
        ranged = sum(1 for p in parts if re.search(r"[<>]", p))
        produced = float(stat[min(equal, len(stat) - 1)]) if equal else float(stat[0])
        produced *= RANGE_SELECTIVITY ** min(ranged, 2)  # a two-sided range: 1/16
        build = rows if flavour and "AUTOMATIC" in flavour else 0.0
        return build + math.log2(rows + 1) + produced * (1.0 if covering else 2.0), produced

    def _alias_map(self, query: WorkloadQuery) -> dict[str, str]:
        if query.key not in self._aliases:
            try:
                tree = sqlglot.parse_one(query.sql, read="sqlite")
                tables = list(tree.find_all(exp.Table)) if tree is not None else []
            except SqlglotError:
                tables = []
            self._aliases[query.key] = {t.alias_or_name: t.name for t in tables if t.name}
        return self._aliases[query.key]


def _limit(sql: str) -> int | None:
    match = re.search(r"\bLIMIT\s+(\d+|\?)(?:\s+OFFSET\s+(\d+|\?))?\s*$", sql.strip(), re.I)
    if not match:
        return None
    limit = int(match.group(1)) if match.group(1).isdigit() else 50
    offset = int(match.group(2)) if match.group(2) and match.group(2).isdigit() else 0
    return limit + offset
