"""Advice as text (one line per finding, fixed prefixes, Dexter-style) and as JSON.

Also the drop suggestions: unused indexes (PostgreSQL statistics), duplicate and prefix
indexes, and INVALID indexes left by failed concurrent builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from turbina.indexes.advisor import Advice
from turbina.indexes.ddl import TAG, create_sql
from turbina.indexes.spec import IndexSpec, sqlglot_dialect
from turbina.indexes.workload import redact

PREFIX = "turbina:"
MAX_QUERIES_SHOWN = 5


@dataclass(frozen=True)
class DropSuggestion:
    """An index worth dropping: ``kind`` is unused, duplicate or invalid."""

    kind: str
    name: str
    table: str
    reason: str
    size: int = 0

    @property
    def ddl(self) -> str:
        return f"DROP INDEX CONCURRENTLY IF EXISTS {self.name}"


@dataclass(frozen=True)
class _Index:
    name: str
    spec: IndexSpec
    primary: bool
    scans: int | None
    valid: bool
    size: int


def _pg_indexes(conn: sa.Connection) -> list[_Index]:
    rows = conn.exec_driver_sql(
        f"{TAG} SELECT c.relname, t.relname, i.indisunique, i.indisprimary, i.indisvalid, "
        "s.idx_scan, pg_relation_size(i.indexrelid), "
        "ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) k "
        "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k), "
        "pg_get_expr(i.indpred, i.indrelid), 0 = ANY(i.indkey[0:i.indnkeyatts - 1]) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid "
        "WHERE n.nspname = current_schema()"
    ).all()
    out = []
    for name, table, unique, primary, valid, scans, size, columns, where, expression in rows:
        if expression:
            continue
        spec = IndexSpec(table, tuple(columns), (), where, bool(unique))
        out.append(_Index(name, spec, bool(primary), scans, bool(valid), int(size or 0)))
    return out


def _sqlite_indexes(conn: sa.Connection) -> list[_Index]:
    inspector = sa.inspect(conn)
    out = []
    for table in inspector.get_table_names():
        for ix in inspector.get_indexes(table):
            columns = ix.get("column_names") or []
            if ix.get("name") and columns and all(columns):
                spec = IndexSpec(
                    table, tuple(c for c in columns if c), (), None, bool(ix.get("unique"))
                )
                out.append(_Index(str(ix["name"]), spec, False, None, True, 0))
    return out


def drop_suggestions(engine: sa.Engine) -> list[DropSuggestion]:
    """Unused, duplicate/prefix and INVALID indexes of the database (suggestions only)."""
    with engine.connect() as conn:
        indexes = (
            _pg_indexes(conn) if engine.dialect.name == "postgresql" else _sqlite_indexes(conn)
        )
    out: list[DropSuggestion] = []
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
        wider = next(
            (
                o
                for o in indexes
                if o is not ix
                and o.valid
                and not ix.spec.unique
                and not ix.primary
                and o.spec.covers(ix.spec)
                and (o.spec != ix.spec or o.name < ix.name)
            ),
            None,
        )
        if wider is not None:
            same = wider.spec.columns == ix.spec.columns
            out.append(
                DropSuggestion(
                    "duplicate",
                    ix.name,
                    ix.spec.table,
                    f"{'same columns as' if same else 'a prefix of'} {wider.name}",
                    ix.size,
                )
            )
        elif ix.scans == 0 and not ix.spec.unique and not ix.primary:
            out.append(
                DropSuggestion(
                    "unused",
                    ix.name,
                    ix.spec.table,
                    "0 scans since statistics were last reset",
                    ix.size,
                )
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


def render_lines(advice: Advice, drops: list[DropSuggestion] | None = None) -> list[str]:
    """The report: one line per finding, each with a fixed prefix."""
    dialect = sqlglot_dialect(advice.dialect)
    lines = [
        f"{PREFIX} advise: {len(advice.effects)} statements, backend {advice.backend}, "
        f"{advice.rounds} rounds in {advice.seconds:.1f} s ({advice.stopped}); budget {_size(advice.budget)}"
    ]
    if not advice.recommendations:
        lines.append(f"{PREFIX} no index found: no candidate improves the workload enough")
    for rec in advice.recommendations:
        lines.append(
            f"{PREFIX} index: {create_sql(rec.spec, advice.dialect, True, True)}; "
            f"est. size {_size(rec.size)}, workload cost -{_share(advice.base_cost, advice.base_cost - rec.benefit)}"
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
        lines.append(
            f"{PREFIX} total: {len(advice.recommendations)} indexes, {_size(advice.total_size)}, "
            f"estimated workload cost -{_share(advice.base_cost, advice.final_cost)}"
        )
    for drop in drops or []:
        lines.append(
            f"{PREFIX} drop: {drop.ddl}; {drop.kind}: {drop.reason} ({drop.table}, {_size(drop.size)})"
        )
    for note in advice.notes:
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
        "budget_bytes": advice.budget,
        "base_cost": advice.base_cost,
        "final_cost": advice.final_cost,
        "indexes": [
            {
                "ddl": create_sql(r.spec, advice.dialect, True, True),
                "table": r.spec.table,
                "columns": list(r.spec.columns),
                "include": list(r.spec.include),
                "where": r.spec.where,
                "size_bytes": r.size,
                "benefit": r.benefit,
                "queries": [
                    {"sql": redact(e.query.sql, dialect), "before": e.before, "after": e.after}
                    for e in r.queries
                ],
            }
            for r in advice.recommendations
        ],
        "drops": [
            {"kind": d.kind, "name": d.name, "table": d.table, "reason": d.reason}
            for d in drops or []
        ],
        "notes": advice.notes,
    }
