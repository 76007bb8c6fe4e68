"""Advice as text (one line per finding, fixed prefixes, Dexter-style) and as JSON.

Also the drop suggestions: unused indexes (PostgreSQL statistics), duplicate and prefix
indexes, and INVALID indexes left by failed concurrent builds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from turbina.indexes.advisor import Advice
from turbina.indexes.ddl import TAG, create_sql
from turbina.indexes.spec import IndexSpec, sqlglot_dialect
from turbina.indexes.workload import WorkloadQuery, redact

PREFIX = "turbina:"
MAX_QUERIES_SHOWN = 5


MIN_STATS_DAYS = 7.0  # scan counts younger than this are no evidence that an index is unused


@dataclass(frozen=True)
class DropSuggestion:
    """An index worth dropping: ``kind`` is unused, duplicate or invalid."""

    kind: str
    name: str
    table: str
    reason: str
    size: int = 0

    def ddl_for(self, dialect: str) -> str:
        concurrently = "CONCURRENTLY " if dialect == "postgresql" else ""
        return f"DROP INDEX {concurrently}IF EXISTS {self.name}"

    @property
    def ddl(self) -> str:
        return self.ddl_for("postgresql")


class DropSuggestions(list[DropSuggestion]):
    """Drop suggestions, with ``notes`` on what was not suggested and why (the evidence)."""

    def __init__(self, items: list[DropSuggestion] = [], notes: list[str] | None = None) -> None:  # noqa: B006
        super().__init__(items)
        self.notes: list[str] = list(notes or [])
        self.dialect = "postgresql"


@dataclass(frozen=True)
class _Index:
    name: str
    spec: IndexSpec
    primary: bool
    scans: int | None
    valid: bool
    size: int
    method: str = "btree"
    keys: tuple[tuple[str, str, str, str], ...] = ()  # (column, opclass, collation, option)
    constraint: bool = False


def _pg_indexes(conn: sa.Connection) -> list[_Index]:
    rows = conn.exec_driver_sql(
        f"{TAG} SELECT c.relname, t.relname, i.indisunique, i.indisprimary, i.indisvalid, "
        "s.idx_scan, pg_relation_size(i.indexrelid), "
        "ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) k "
        "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k), "
        "pg_get_expr(i.indpred, i.indrelid), 0 = ANY(i.indkey::int2[]), "
        "ARRAY(SELECT a.attname FROM unnest(i.indkey[i.indnkeyatts:]) k "
        "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k), "
        "am.amname, i.indclass::text, i.indcollation::text, i.indoption::text, "
        "EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = c.relam "
        "LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid "
        "WHERE n.nspname = current_schema()"
    ).all()
    out = []
    for row in rows:
        name, table, unique, primary, valid, scans, size, columns, where, expression = row[:10]
        include, method, opclasses, collations, options, constraint = row[10:]
        if expression:
            continue
        width = len(columns)
        per_key = zip(
            columns,
            opclasses.split()[:width],
            collations.split()[:width],
            options.split()[:width],
            strict=False,
        )
        spec = IndexSpec(table, tuple(columns), tuple(include), where, bool(unique))
        facts = (bool(primary), scans, bool(valid), int(size or 0), str(method))
        out.append(_Index(name, spec, *facts, tuple(per_key), bool(constraint)))
    return out


def _sqlite_indexes(conn: sa.Connection) -> list[_Index]:
    out = []
    rows = conn.exec_driver_sql(
        f"{TAG} SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"
    ).all()
    for name, table, sql in rows:
        keys = []
        for row in conn.exec_driver_sql(f'PRAGMA index_xinfo("{name}")').all():
            _seqno, _cid, column, desc, collation, key = row
            if key and column is not None:
                keys.append((str(column), "", str(collation), str(desc)))
        if not keys or any(k[0] is None for k in keys):
            continue
        unique = bool(
            conn.exec_driver_sql(
                f"SELECT \"unique\" FROM pragma_index_list('{table}') WHERE name = ?", (name,)
            ).scalar()
        )
        where = None
        if sql and re.search(r"\bWHERE\b", sql, re.I):
            where = re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.I)[1].strip()
        spec = IndexSpec(table, tuple(k[0] for k in keys), (), where, unique)
        auto = sql is None  # a PRIMARY KEY / UNIQUE constraint's own index
        out.append(_Index(str(name), spec, False, None, True, 0, "btree", tuple(keys), auto))
    return out


def _redundant(ix: _Index, other: _Index) -> str | None:
    """Why ``ix`` is redundant beside ``other`` (None when it is not): same method, same
    predicate; an exact duplicate has the same keys (operator classes, collations, order),
    INCLUDE columns and uniqueness; a prefix is a non-unique btree whose keys lead ``other``
    and whose INCLUDE columns ``other`` holds too."""
    if other is ix or not other.valid or ix.primary or ix.constraint:
        return None
    a, b = ix.spec, other.spec
    if a.table != b.table or a.where != b.where or ix.method != other.method:
        return None
    if ix.keys == other.keys and set(a.include) == set(b.include) and a.unique == b.unique:
        if (other.constraint or other.primary) or other.name < ix.name:
            return f"same columns, predicate and uniqueness as {other.name}"
        return None
    if a.unique or ix.method != "btree" or len(ix.keys) >= len(other.keys):
        return None
    if other.keys[: len(ix.keys)] != ix.keys:
        return None
    if not set(a.include) <= set(b.columns) | set(b.include):
        return None
    return f"a prefix of {other.name} (same predicate, same operator classes and order)"


def _stats_age_days(conn: sa.Connection) -> float | None:
    value = conn.exec_driver_sql(
        f"{TAG} SELECT extract(epoch FROM now() - stats_reset) / 86400.0 FROM pg_stat_database "
        "WHERE datname = current_database()"
    ).scalar()
    return float(value) if value is not None else None


def plan_indexes(engine: sa.Engine, queries: Iterable[WorkloadQuery]) -> set[str]:
    """Names of the indexes the workload's real plans use (EXPLAIN / EXPLAIN QUERY PLAN, on
    the database as it is; statements that cannot be planned are ignored)."""
    used: set[str] = set()
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        for query in queries:
            cursor = raw.cursor()
            try:
                if engine.dialect.name == "postgresql":
                    if query.generic:
                        continue
                    cursor.execute(f"{TAG} EXPLAIN (FORMAT JSON) {query.sql}", query.params)
                    plan = cursor.fetchall()[0][0]
                    used |= _json_index_names(json.loads(plan) if isinstance(plan, str) else plan)
                else:
                    cursor.execute(f"{TAG} EXPLAIN QUERY PLAN {query.sql}", query.params or ())
                    for row in cursor.fetchall():
                        match = re.search(r"USING (?:COVERING )?INDEX (\S+)", str(row[-1]))
                        if match:
                            used.add(match.group(1))
            except Exception:  # a statement that cannot be planned uses no index
                if engine.dialect.name == "postgresql":
                    raw.rollback()
            finally:
                cursor.close()
        conn.rollback()
    return used


def _json_index_names(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Index Name" and isinstance(value, str):
                found.add(value)
            else:
                found |= _json_index_names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _json_index_names(item)
    return found


def drop_suggestions(
    engine: sa.Engine,
    queries: Iterable[WorkloadQuery] = (),
    min_stats_days: float = MIN_STATS_DAYS,
) -> DropSuggestions:
    """INVALID, redundant (duplicate or prefix) and unused indexes (suggestions only).

    "Unused" needs evidence: zero scans over statistics at least ``min_stats_days`` old
    (``pg_stat_database.stats_reset``; never reset = unknown age = no evidence), and no plan
    of the workload (``queries``, EXPLAINed on the database as it is) using the index."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            indexes = _pg_indexes(conn)
            age = _stats_age_days(conn)
        else:
            indexes = _sqlite_indexes(conn)
            age = None
    queries = list(queries)
    used = plan_indexes(engine, queries) if queries else set()
    out = DropSuggestions()
    out.dialect = engine.dialect.name
    unproven: list[str] = []
    for ix in indexes:
        if not ix.valid:
            out.append(
                DropSuggestion(
                    "invalid",
                    ix.name,
                    ix.spec.table,
                    "INVALID (a failed concurrent build): the planner ignores it, writes still pay for it",
                    ix.size,
                )
            )
            continue
        why = next((r for o in indexes if (r := _redundant(ix, o))), None)
        if why is not None:
            if ix.name in used:
                why += "; the workload's plans use it now and would use the other one"
            out.append(DropSuggestion("duplicate", ix.name, ix.spec.table, why, ix.size))
            continue
        if ix.scans != 0 or ix.spec.unique or ix.primary or ix.constraint:
            continue
        if ix.name in used:
            continue  # a plan of the workload uses it: never "unused"
        if age is None or age < min_stats_days:
            unproven.append(ix.name)
            continue
        out.append(
            DropSuggestion(
                "unused",
                ix.name,
                ix.spec.table,
                f"0 scans in the {age:.1f} days since statistics were reset, and no plan of "
                f"the {len(queries)} workload statement(s) uses it",
                ix.size,
            )
        )
    if unproven:
        when = (
            "statistics were never reset (their age is unknown)"
            if age is None
            else f"statistics are only {age:.1f} days old"
        )
        out.notes.append(
            f"{len(unproven)} index(es) with 0 scans not called unused ({', '.join(sorted(unproven)[:5])}): "
            f"{when}, and {min_stats_days:g} days are needed "
            "(fix: SELECT pg_stat_reset(), then advise again after that long)"
        )
    return out


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "kB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _share(before: float, after: float) -> str:
    return f"{100 * (1 - after / before):.1f}%" if before else "0%"


def _cost(advice: Advice, value: float) -> str:
    return f"{value:,.1f} ms" if advice.cost_unit == "ms" else f"{value:,.1f}"


def render_lines(advice: Advice, drops: list[DropSuggestion] | None = None) -> list[str]:
    """The report: one line per finding, each with a fixed prefix. Notes about the backend
    (the HypoPG fallback) come first; statements not used are listed with their line."""
    dialect = sqlglot_dialect(advice.dialect)
    lines = [f"{PREFIX} note: {note}" for note in advice.backend_notes]
    lines.append(
        f"{PREFIX} advise: {len(advice.effects)} statements ({len(advice.skipped)} skipped), "
        f"{len(advice.writes)} write loads, backend {advice.backend}, {advice.rounds} rounds in "
        f"{advice.seconds:.1f} s; stopped by the {advice.stopped}; budget {_size(advice.budget)}"
    )
    for skipped in advice.skipped:
        lines.append(skipped.line())
    if not advice.recommendations:
        lines.append(f"{PREFIX} no index found: no candidate passes the threshold rule")
    base = advice.base_cost
    for rec in advice.recommendations:
        write = (
            f", write cost +{_cost(advice, rec.write_cost)} (+{100 * rec.write_cost / base:.1f}%)"
            if base and advice.writes
            else ""
        )
        lines.append(
            f"{PREFIX} index: {create_sql(rec.spec, advice.dialect, True, True)}; "
            f"est. size {_size(rec.size)}, workload cost -{_share(base, base - rec.benefit)}{write}"
        )
        for effect in sorted(rec.queries, key=lambda e: e.query.weight, reverse=True)[
            :MAX_QUERIES_SHOWN
        ]:
            shown = redact(effect.query.sql, dialect)[:160]
            lines.append(
                f"{PREFIX} query: cost {effect.before:,.2f} -> {effect.after:,.2f} "
                f"(-{_share(effect.before, effect.after)}, {effect.query.calls} calls): {shown}"
            )
    if advice.recommendations:
        write = (
            f", write cost +{_cost(advice, advice.write_cost)} of {_cost(advice, base)}"
            if advice.writes
            else ""
        )
        lines.append(
            f"{PREFIX} total: {len(advice.recommendations)} indexes, {_size(advice.total_size)}, "
            f"estimated workload cost -{_share(base, advice.final_cost)}{write}"
        )
    dialect_name = getattr(drops, "dialect", advice.dialect)
    for drop in drops or []:
        lines.append(
            f"{PREFIX} drop: {drop.ddl_for(dialect_name)}; {drop.kind}: {drop.reason} "
            f"({drop.table}, {_size(drop.size)})"
        )
    for note in [*getattr(drops, "notes", []), *advice.notes]:
        lines.append(f"{PREFIX} note: {note}")
    return lines


def to_json(advice: Advice, drops: list[DropSuggestion] | None = None) -> dict[str, Any]:
    """A JSON-ready dict of the advice (statements redacted)."""
    dialect = sqlglot_dialect(advice.dialect)
    return {
        "backend": advice.backend,
        "rounds": advice.rounds,
        "seconds": round(advice.seconds, 3),
        "stopped": advice.stopped,
        "stop_reason": advice.stop_reason,
        "blocked": [
            {
                "indexes": [s.describe() for s in b.specs],
                "added_bytes": b.added_bytes,
                "saving": b.saving,
            }
            for b in advice.blocked
        ],
        "budget_bytes": advice.budget,
        "base_cost": advice.base_cost,
        "final_cost": advice.final_cost,
        "cost_unit": advice.cost_unit,
        "write_cost": advice.write_cost,
        "thresholds": {
            "min_improvement": advice.min_improvement,
            "min_statement_cost": advice.min_statement_cost,
            "min_statement_saving": 0.5,
        },
        "indexes": [
            {
                "ddl": create_sql(r.spec, advice.dialect, True, True),
                "table": r.spec.table,
                "columns": list(r.spec.columns),
                "include": list(r.spec.include),
                "where": r.spec.where,
                "size_bytes": r.size,
                "benefit": r.benefit,
                "write_cost": r.write_cost,
                "queries": [
                    {
                        "sql": redact(e.query.sql, dialect),
                        # the recorder's fingerprint (literal-free) when the workload had one:
                        # how the report finds the statement's time in a store window
                        "fingerprint": e.query.fingerprint,
                        "before": e.before,
                        "after": e.after,
                    }
                    for e in r.queries
                ],
            }
            for r in advice.recommendations
        ],
        "skipped": [{"source": s.source, "reason": s.reason} for s in advice.skipped],
        "drops": [
            {"kind": d.kind, "name": d.name, "table": d.table, "reason": d.reason}
            for d in drops or []
        ],
        "notes": [*advice.backend_notes, *getattr(drops, "notes", []), *advice.notes],
    }
