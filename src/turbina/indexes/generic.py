"""Statements without values: redacted fingerprints made plannable, and their generic plans.

The store keeps statements as fingerprints (every literal and placeholder is ``?``), never
their values. PostgreSQL plans such a statement *generically*: each ``?`` becomes a numbered
``$n`` parameter, the statement is PREPAREd and ``EXPLAIN EXECUTE`` runs under
``plan_cache_mode = force_generic_plan`` with NULL arguments (a generic plan does not look at
them). SQLite's ``EXPLAIN QUERY PLAN`` binds NULL to each ``?`` and does not run the query.
``from_fingerprints`` turns the store's fingerprint rows into the advisor's workload.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any

from turbina.indexes.workload import MAX_QUERIES, Workload, WorkloadQuery, cap, is_select

__all__ = [
    "bindings",
    "from_fingerprints",
    "generic_plan",
    "numbered",
    "placeholder_count",
    "plan_json",
]

# Quoted strings and identifiers are skipped whole, so a ``?`` inside them is not a
# placeholder (literals are already ``?`` in a fingerprint; identifiers may hold one).
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|\$\d+|\?""")
_PG_PARAM = re.compile(r"\$(\d+)")
_statement_ids = itertools.count()


def placeholder_count(sql: str) -> int:
    """How many ``?`` placeholders ``sql`` holds (outside quotes)."""
    return sum(1 for m in _TOKENS.finditer(sql) if m.group() == "?")


def numbered(sql: str) -> str:
    """``sql`` with each ``?`` placeholder replaced by ``$1``, ``$2``, ... (PostgreSQL)."""
    counter = itertools.count(1)

    def number(match: re.Match[str]) -> str:
        return f"${next(counter)}" if match.group() == "?" else match.group()

    return _TOKENS.sub(number, sql)


def bindings(sql: str) -> tuple[None, ...]:
    """One NULL per ``?`` of ``sql`` (SQLite needs a value for each to plan it)."""
    return (None,) * placeholder_count(sql)


def generic_plan(run: Callable[[str], list[Any]], sql: str, fmt: str = "JSON") -> list[Any]:
    """The rows of ``EXPLAIN (FORMAT fmt)`` for the generic plan of ``sql`` (``$n``
    placeholders, no values), run through ``run`` on one PostgreSQL connection. The prepared
    statement is deallocated and ``plan_cache_mode`` reset afterwards."""
    numbers = [int(n) for n in _PG_PARAM.findall(sql)]
    # Prepared statements outlive a rolled-back transaction: a fresh name each time.
    name = f"turbina_generic_{next(_statement_ids)}"
    run("SET plan_cache_mode = force_generic_plan")
    run(f"PREPARE {name} AS {sql}")
    try:
        args = ", ".join(["NULL"] * max(numbers, default=0))
        return run(f"EXPLAIN (FORMAT {fmt}) EXECUTE {name}" + (f"({args})" if args else ""))
    finally:
        with suppress(Exception):
            run(f"DEALLOCATE {name}")
            run("RESET plan_cache_mode")


def plan_json(rows: list[Any]) -> Any:
    """The JSON plan of ``EXPLAIN (FORMAT JSON)`` rows (drivers give text or parsed JSON)."""
    plan = rows[0][0]
    return json.loads(plan) if isinstance(plan, str) else plan


def from_fingerprints(
    rows: Iterable[Mapping[str, Any]], dialect: str, limit: int = MAX_QUERIES
) -> Workload:
    """The reads among the store's fingerprint rows (``fingerprint``, ``calls``,
    ``mean_ms``), planned generically: ``$n`` parameters on PostgreSQL, NULL bindings on
    SQLite. Writes are not taken (a fingerprint says neither which rows nor how many)."""
    out = Workload()
    for row in rows:
        text = str(row.get("fingerprint", ""))
        if not is_select(text):
            continue
        if dialect == "postgresql":
            sql, params = numbered(text), None
        else:
            sql, params = text, bindings(text)
        out.queries.append(
            WorkloadQuery(
                sql=sql,
                params=params,
                calls=int(row.get("calls", 1) or 1),
                mean_ms=float(row["mean_ms"]) if row.get("mean_ms") is not None else None,
                fingerprint=text,
                source=f"store {text[:40]}",
            )
        )
    out.queries = cap(out.queries, limit)
    return out
