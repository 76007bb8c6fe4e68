"""Generic plans for the report's slow SELECTs (``turbina report --explain``).

The store keeps fingerprints, never values, so a plan is the *generic* one
(``turbina.indexes.generic``): PostgreSQL plans the PREPAREd statement with
``plan_cache_mode = force_generic_plan``; SQLite's ``EXPLAIN QUERY PLAN`` binds NULLs. Nothing
runs the statement (no ANALYZE), only read-only SELECTs are planned, and the summaries are
redacted (``turbina.queries.explain``). Each plan runs in its own rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from turbina.indexes.generic import bindings, generic_plan, numbered, plan_json
from turbina.queries.explain import TAG, is_explainable, summarize_postgres, summarize_sqlite

__all__ = ["MAX_PLANS", "explain_all"]

MAX_PLANS = 10


def _lines(summary: dict[str, object]) -> list[str]:
    nodes = [str(n) for n in summary.get("nodes", []) or []]  # type: ignore[attr-defined]
    warnings = [f"! {w}" for w in summary.get("warnings", []) or []]  # type: ignore[attr-defined]
    return nodes + warnings or ["(empty plan)"]


def explain_all(engine: sa.Engine, fingerprints: Iterable[str]) -> dict[str, list[str]]:
    """``fingerprint -> plan lines`` for the first ``MAX_PLANS`` explainable fingerprints; a
    statement the database refuses gets one line saying why."""
    plans: dict[str, list[str]] = {}
    dialect = engine.dialect.name
    for shape in fingerprints:
        if len(plans) >= MAX_PLANS:
            break
        if shape in plans or not is_explainable(shape):
            continue
        try:
            with engine.connect() as conn:
                try:
                    if dialect == "postgresql":

                        def run(sql: str, conn: sa.Connection = conn) -> list[object]:
                            result = conn.exec_driver_sql(f"{TAG} {sql}")
                            return list(result.all()) if result.returns_rows else []

                        plans[shape] = _lines(
                            summarize_postgres(plan_json(generic_plan(run, numbered(shape))))
                        )
                    elif dialect == "sqlite":
                        rows = conn.exec_driver_sql(
                            f"{TAG} EXPLAIN QUERY PLAN {shape}", bindings(shape)
                        ).all()
                        plans[shape] = _lines(summarize_sqlite([tuple(r) for r in rows]))
                    else:
                        plans[shape] = [f"(no generic plan on {dialect})"]
                finally:
                    conn.rollback()
        except sa.exc.SQLAlchemyError as exc:
            first = (str(exc.orig if hasattr(exc, "orig") else exc).strip().splitlines() or ["?"])[
                0
            ]
            plans[shape] = [f"(no plan: the database refused it: {first[:160]})"]
    return plans
