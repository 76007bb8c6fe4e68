"""The Indexes page: the last advisor report, and unused/duplicate/INVALID indexes now.

The report is the file ``flask turbina indexes advise`` saved in the instance folder
(``turbina.indexes.saved``). The drop suggestions are computed on demand from the catalogs
by ``turbina.indexes.report.drop_suggestions`` — its evidence rule: "unused" only with zero
scans over statistics at least a week old — next to the evidence itself, each index's scan
count since ``pg_stat_database.stats_reset``. SQLite keeps no scan counts and has no INVALID
indexes: only duplicates and prefixes can be told there, and the page says so.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask

from turbina.errors import TurbinaError
from turbina.indexes.report import MIN_STATS_DAYS, drop_suggestions
from turbina.indexes.saved import load_report, report_path
from turbina.indexes.workload import TAG

__all__ = ["MAX_INDEXES_SHOWN", "app_engines", "indexes_panel"]

log = logging.getLogger("turbina.dashboard")
MAX_INDEXES_SHOWN = 200
CATALOG_TIMEOUT_MS = 5000
HOW_TO_ADVISE = "flask --app yourapp turbina indexes advise"
SQLITE_NOTE = (
    "SQLite keeps no scan counts, so an unused index cannot be told; it has no INVALID "
    "indexes either: only duplicate and prefix indexes are shown"
)


def app_engines(app: Flask) -> dict[str, sa.Engine]:
    """The app's Flask-SQLAlchemy engines by bind name (``default`` for the main one)."""
    extension = app.extensions.get("sqlalchemy")
    engines = getattr(extension, "engines", None) or {}
    return {("default" if key is None else str(key)): engine for key, engine in engines.items()}


def _pg_evidence(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {CATALOG_TIMEOUT_MS}")
        reset = conn.exec_driver_sql(
            f"{TAG} SELECT stats_reset, extract(epoch FROM now() - stats_reset) / 86400.0 "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).first()
        rows = conn.exec_driver_sql(
            f"{TAG} SELECT s.relname, s.indexrelname, s.idx_scan, pg_relation_size(s.indexrelid), "
            "i.indisvalid, i.indisunique OR i.indisprimary "
            "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid "
            "WHERE s.schemaname = current_schema() "
            "ORDER BY s.idx_scan, pg_relation_size(s.indexrelid) DESC, s.indexrelname "
            f"LIMIT {MAX_INDEXES_SHOWN}"
        ).all()
    since = reset[0].isoformat(timespec="seconds") if reset and reset[0] else None
    age = float(reset[1]) if reset and reset[1] is not None else None
    return {
        "stats_reset": since,
        "stats_age_days": round(age, 2) if age is not None else None,
        "enough_evidence": age is not None and age >= MIN_STATS_DAYS,
        "indexes": [
            {
                "table": table,
                "index": name,
                "scans": int(scans or 0),
                "size_bytes": int(size or 0),
                "valid": bool(valid),
                "unique": bool(unique),
            }
            for table, name, scans, size, valid, unique in rows
        ],
    }


def _engine_panel(name: str, engine: sa.Engine) -> dict[str, Any]:
    dialect = engine.dialect.name
    out: dict[str, Any] = {
        "name": name,
        "dialect": dialect,
        "database": engine.url.render_as_string(hide_password=True),
        "drops": [],
        "notes": [],
        "evidence": None,
        "error": None,
    }
    if dialect not in ("postgresql", "sqlite"):
        out["error"] = f"index checks support PostgreSQL and SQLite, not {dialect}"
        return out
    try:
        drops = drop_suggestions(engine)
        out["drops"] = [
            {
                "kind": d.kind,
                "name": d.name,
                "table": d.table,
                "reason": d.reason,
                "size_bytes": d.size,
                "ddl": d.ddl_for(dialect),
            }
            for d in drops[:MAX_INDEXES_SHOWN]
        ]
        out["notes"] = list(drops.notes)
        if dialect == "postgresql":
            out["evidence"] = _pg_evidence(engine)
        else:
            out["notes"].append(SQLITE_NOTE)
    except sa.exc.SQLAlchemyError as exc:
        log.exception("turbina: the dashboard cannot read the index catalogs of %s", name)
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["error"])[0]
        out["error"] = f"cannot read the catalogs: {first[:200]}"
    return out


def _shown_report(saved: dict[str, Any]) -> dict[str, Any]:
    """The saved report with what the page shows computed: when it ran (UTC), each index's
    share of the workload cost saved, each statement's cost before and after."""
    report = saved["report"]
    base = float(report.get("base_cost") or 0.0)
    final = float(report.get("final_cost") or 0.0)
    indexes = []
    for index in report.get("indexes", []):
        benefit = float(index.get("benefit") or 0.0)
        indexes.append({**index, "gain": round(benefit / base, 4) if base else 0.0})
    ran_at = float(saved.get("ran_at") or 0.0)
    return {
        **saved,
        "ran_at_utc": datetime.fromtimestamp(ran_at, UTC).isoformat(timespec="seconds"),
        "indexes": indexes,
        "total_gain": round(1 - final / base, 4) if base else 0.0,
        "drops": report.get("drops", []),
        "notes": report.get("notes", []),
    }


def indexes_panel(app: Flask) -> dict[str, Any]:
    """The saved report (or how to make one) and each engine's drop suggestions now."""
    path = report_path(app.instance_path)
    report: dict[str, Any] | None = None
    report_error = None
    try:
        report = load_report(path)
    except TurbinaError as exc:
        report_error = f"{exc.message} (fix: {exc.fix})"
    engines = app_engines(app)
    return {
        "report": _shown_report(report) if report is not None else None,
        "report_path": str(path),
        "report_error": report_error,
        "how_to_advise": HOW_TO_ADVISE,
        "min_stats_days": MIN_STATS_DAYS,
        "engines": [_engine_panel(name, engine) for name, engine in engines.items()],
    }
