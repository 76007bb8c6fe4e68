"""EXPLAIN on demand for a fingerprint the store recorded: SELECT only, bounded, read-only.

The store holds redacted statements (every literal is ``?``), so the plan is the generic one
(``turbina.indexes.generic``): on PostgreSQL the ``?`` become ``$n`` parameters, the statement
is PREPAREd and ``EXPLAIN (FORMAT JSON) EXECUTE`` plans it with NULL arguments under
``force_generic_plan``, in a ``READ ONLY`` transaction with ``SET LOCAL statement_timeout``,
rolled back; nothing is executed (no ANALYZE). On SQLite ``EXPLAIN QUERY PLAN`` binds NULL to
each ``?`` and does not run the query either; a progress handler bounds its time. String
values in the plan are redacted again (a view's definition may carry literals). One EXPLAIN
at a time per process: a second request while one runs is refused (429), not queued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from turbina.errors import TurbinaError
from turbina.indexes.generic import bindings, generic_plan, numbered, plan_json
from turbina.indexes.workload import TAG, is_select
from turbina.queries.explain import is_explainable
from turbina.queries.redact import redact_text, redact_tree

__all__ = ["EXPLAIN_TIMEOUT_MS", "ExplainRefused", "explain_fingerprint", "render_pg_plan"]

EXPLAIN_TIMEOUT_MS = 2000
MAX_PLAN_LINES = 400
_running = threading.Lock()
_DETAIL_KEYS = (
    "Index Cond",
    "Recheck Cond",
    "Hash Cond",
    "Merge Cond",
    "Join Filter",
    "Filter",
    "Sort Key",
    "Group Key",
)


class ExplainRefused(TurbinaError):
    """A request for a plan that is not given: ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str, fix: str) -> None:
        super().__init__(message, fix)
        self.status = status


def _refuse_unless_select(fingerprint: str) -> None:
    body = fingerprint.strip().rstrip(";")
    if ";" in body or not (is_select(body) and is_explainable(body)):
        raise ExplainRefused(
            400,
            "only a single read-only SELECT can be explained",
            "pick a SELECT fingerprint of the Queries page",
        )


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    if not _running.acquire(blocking=False):
        raise ExplainRefused(429, "another EXPLAIN is running", "try again in a moment")
    try:
        yield
    finally:
        _running.release()


def render_pg_plan(plan: Any) -> list[str]:
    """An ``EXPLAIN (FORMAT JSON)`` plan as indented text lines, like ``FORMAT TEXT``."""
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        head = str(node.get("Node Type", "?"))
        if node.get("Index Name"):
            head += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            head += f" on {node['Relation Name']}"
            if node.get("Alias") and node["Alias"] != node["Relation Name"]:
                head += f" {node['Alias']}"
        cost = f"(cost={node.get('Startup Cost', 0):.2f}..{node.get('Total Cost', 0):.2f} "
        cost += f"rows={node.get('Plan Rows', 0)} width={node.get('Plan Width', 0)})"
        pad = "  " * depth
        lines.append(f"{pad}{'-> ' if depth else ''}{head}  {cost}")
        for key in _DETAIL_KEYS:
            value = node.get(key)
            if value:
                shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
                lines.append(f"{pad}      {key}: {shown}")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    root = plan[0]["Plan"] if isinstance(plan, list) else plan["Plan"]
    walk(root, 0)
    return lines[:MAX_PLAN_LINES]


def _pg_plan(engine: sa.Engine, fingerprint: str) -> list[str]:
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection

        def run(sql: str) -> list[Any]:
            cursor = raw.cursor()
            try:
                cursor.execute(f"{TAG} {sql}")
                return list(cursor.fetchall()) if cursor.description else []
            finally:
                cursor.close()

        autocommit = bool(getattr(raw, "autocommit", False))  # an AUTOCOMMIT engine
        try:
            if autocommit:
                run("BEGIN READ ONLY")
            else:  # the driver has begun one: this first statement sets its mode
                run("SET TRANSACTION READ ONLY")
            run(f"SET LOCAL statement_timeout = {EXPLAIN_TIMEOUT_MS}")
            plan = plan_json(generic_plan(run, numbered(fingerprint)))
            if autocommit:
                run("ROLLBACK")
            else:
                raw.rollback()
        except Exception:
            # An aborted transaction may have kept the prepared statement: never pool it.
            conn.invalidate()
            raise
    return render_pg_plan(redact_tree(plan))


def _sqlite_plan(engine: sa.Engine, fingerprint: str) -> list[str]:
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        deadline = time.monotonic() + EXPLAIN_TIMEOUT_MS / 1000

        def too_long() -> int:
            return 1 if time.monotonic() > deadline else 0

        raw.set_progress_handler(too_long, 1000)
        try:
            cursor = raw.execute(f"EXPLAIN QUERY PLAN {fingerprint}", bindings(fingerprint))
            rows = cursor.fetchall()
        finally:
            raw.set_progress_handler(None, 0)
            conn.rollback()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        level = depth.get(parent, -1) + 1
        depth[node_id] = level
        lines.append(f"{'  ' * level}{'-> ' if level else ''}{redact_text(str(detail))}")
    return lines[:MAX_PLAN_LINES]


def explain_fingerprint(engine: sa.Engine, fingerprint: str) -> dict[str, Any]:
    """The generic plan of ``fingerprint`` on ``engine``: ``{"dialect", "plan": [lines],
    "parameters"}``; ``ExplainRefused`` for anything but a SELECT, or while another EXPLAIN
    runs; the database's own error as a ``TurbinaError`` (one line)."""
    _refuse_unless_select(fingerprint)
    dialect = engine.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise ExplainRefused(
            400, f"EXPLAIN on demand supports PostgreSQL and SQLite, not {dialect}", "use psql"
        )
    with _one_at_a_time():
        try:
            lines = (_pg_plan if dialect == "postgresql" else _sqlite_plan)(engine, fingerprint)
        except sa.exc.DBAPIError as exc:
            raise _failed(exc.orig or exc) from None
        except Exception as exc:  # the driver's own error class (psycopg, sqlite3)
            raise _failed(exc) from None
    return {
        "dialect": dialect,
        "statement": fingerprint,
        "parameters": len(bindings(fingerprint)),
        "plan": lines,
        "timeout_ms": EXPLAIN_TIMEOUT_MS,
    }


def _failed(exc: BaseException) -> TurbinaError:
    first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
    return TurbinaError(
        f"the database could not plan it: {redact_text(first)}",
        "a generic plan needs each ? to have a type the planner can infer",
    )
