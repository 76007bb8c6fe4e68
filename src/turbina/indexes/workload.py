"""The workload to advise on: SELECT statements with a sample parameter set and a weight.

Three sources: the query recorder's captured samples (``from_samples``), PostgreSQL's
``pg_stat_statements`` (``from_pg_stat_statements``) and a SQL file (``from_sql_file``).
Sample parameters stay in memory; anything shown to a person goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.errors import TurbinaError

TAG = "/* turbina */"
MAX_QUERIES = 300
_HINT = re.compile(r"--\s*turbina:\s*(.*)$", re.MULTILINE)
_PG_PARAM = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class WorkloadQuery:
    """One statement of the workload. ``mean_ms`` is None when the source has no timings
    (a SQL file); the advisor then weighs the statement by its plan cost."""

    sql: str
    params: Any = None
    calls: int = 1
    mean_ms: float | None = None
    fingerprint: str | None = None
    label: str | None = None

    @property
    def weight(self) -> float:
        """calls × mean time (ms); calls alone when there is no timing."""
        return self.calls * (self.mean_ms if self.mean_ms is not None else 1.0)

    @property
    def key(self) -> str:
        return self.fingerprint or self.sql

    @property
    def generic(self) -> bool:
        """Numbered ``$n`` placeholders without values (pg_stat_statements): plan generically."""
        return self.params is None and bool(_PG_PARAM.search(self.sql))


def is_select(sql: str) -> bool:
    """True for a plain read (SELECT / WITH ... SELECT), never for writes or our own SQL."""
    if TAG in sql:
        return False
    text = _strip_comments(sql).strip().lower()
    if not text.startswith(("select", "with", "(")):
        return False
    if re.search(r"\bfor\s+(update|share|no\s+key\s+update|key\s+share)\b", text):
        return False
    return not (text.startswith("with") and re.search(r"\b(insert|update|delete)\b", text))


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)


def redact(sql: str, dialect: str = "postgres") -> str:
    """The statement with literals replaced by ``?`` (for display; params are never shown)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", sql)
    if tree is None:
        return "?"

    def hide(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Literal):
            return exp.Placeholder()
        return node

    return tree.transform(hide).sql(dialect)


def _cap(queries: Iterable[WorkloadQuery], limit: int) -> list[WorkloadQuery]:
    return sorted(queries, key=lambda q: q.weight, reverse=True)[:limit]


def from_samples(
    samples: Iterable[Any], engine_name: str | None = None, limit: int = MAX_QUERIES
) -> list[WorkloadQuery]:
    """Adapt the recorder's ``workload_samples()`` (objects with ``statement``, ``parameters``,
    ``calls``, ``mean_ms``, ``fingerprint``, ``engine_name``) to workload queries."""
    out = []
    for sample in samples:
        if engine_name is not None and getattr(sample, "engine_name", engine_name) != engine_name:
            continue
        statement = str(sample.statement)
        if not is_select(statement):
            continue
        params = sample.parameters
        if isinstance(params, list) and params and isinstance(params[0], tuple | dict | list):
            params = params[0]  # an executemany batch: one row is the sample
        out.append(
            WorkloadQuery(
                sql=statement,
                params=params,
                calls=int(sample.calls),
                mean_ms=float(sample.mean_ms),
                fingerprint=getattr(sample, "fingerprint", None),
            )
        )
    return _cap(out, limit)


def from_recorder(state: Any, engine_name: str | None = None) -> list[WorkloadQuery]:
    """The workload captured by ``app.extensions["turbina"].queries`` (duck-typed)."""
    getter = getattr(state, "workload_samples", None)
    if getter is None:
        raise TurbinaError(
            "the query recorder exposes no captured workload",
            "enable turbina.queries (TURBINA_ENABLED=true) or pass --workload FILE.sql",
        )
    return from_samples(getter(), engine_name=engine_name)


def from_pg_stat_statements(engine: sa.Engine, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """Top statements of ``pg_stat_statements`` in the current database (generic plans)."""
    sql = sa.text(
        f"{TAG} SELECT s.query, s.calls, s.mean_exec_time, s.queryid::text FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
        "ORDER BY s.calls * s.mean_exec_time DESC LIMIT :limit"
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(sql, {"limit": limit * 3}).all()
    except sa.exc.DBAPIError as exc:
        raise TurbinaError(
            f"pg_stat_statements is not available: {exc.orig}",
            "run CREATE EXTENSION pg_stat_statements (and add it to shared_preload_libraries)",
        ) from None
    out = [
        WorkloadQuery(sql=row[0], calls=int(row[1]), mean_ms=float(row[2]), fingerprint=row[3])
        for row in rows
        if is_select(row[0])
    ]
    return _cap(out, limit)


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split SQL text on top-level ``;`` (outside quotes, comments and dollar quotes).
    Returns (first line number, statement text with its leading comments)."""
    out: list[tuple[int, str]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("--", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "'":
            i += 1
            while i < n and not (text[i] == "'" and not text.startswith("''", i)):
                i += 2 if text.startswith("''", i) else 1
            i += 1
            continue
        if ch == ";":
            _append_statement(out, text, start, i)
            start = i + 1
        i += 1
    _append_statement(out, text, start, n)
    return out


def _append_statement(out: list[tuple[int, str]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    if not _strip_comments(chunk).strip():
        return
    leading = len(chunk) - len(chunk.lstrip())
    line = text.count("\n", 0, start + leading) + 1
    out.append((line, chunk.strip()))


def _hints(statement: str) -> Mapping[str, str]:
    hints: dict[str, str] = {}
    for match in _HINT.finditer(statement):
        for part in match.group(1).split():
            if "=" in part:
                name, _, value = part.partition("=")
                hints[name.strip()] = value.strip()
    return hints


def from_sql_text(text: str, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """SELECT statements of a SQL text. A comment ``-- turbina: calls=120 mean_ms=3.5
    label=page`` before a statement sets its weight and label."""
    out = []
    for _line, statement in split_statements(text):
        if not is_select(statement):
            continue
        hints = _hints(statement)
        try:
            calls = int(hints.get("calls", "1"))
            mean_ms = float(hints["mean_ms"]) if "mean_ms" in hints else None
        except ValueError:
            raise TurbinaError(
                f"bad turbina hint in workload statement: {dict(hints)}",
                "write hints as -- turbina: calls=INT mean_ms=FLOAT label=NAME",
            ) from None
        body = re.sub(r"--[^\n]*", "", statement).strip()
        out.append(WorkloadQuery(sql=body, calls=calls, mean_ms=mean_ms, label=hints.get("label")))
    return _cap(out, limit)


def from_sql_file(path: str | Path, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """``from_sql_text`` over a file; a missing file is a ``TurbinaError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TurbinaError(
            f"cannot read workload file {path}: {getattr(exc, 'strerror', None) or exc}",
            "pass an existing .sql file",
        ) from None
    queries = from_sql_text(text, limit)
    if not queries:
        raise TurbinaError(
            f"workload file {path} has no SELECT statement",
            "put the slow SELECTs in the file, one per ';'",
        )
    return queries
