"""``turbina indexes check FILE.sql``: which index statements would fail, and why.

Static checks (no database needed): non-immutable calls in index predicates or expressions
(``CURRENT_DATE``, ``now()``...), ``CONCURRENTLY`` inside a ``BEGIN ... COMMIT`` block, and a
note that ``CONCURRENTLY`` statements cannot run inside a migration's transaction. With a
database, also unknown tables and columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.errors import TurbinaError
from turbina.indexes.ddl import immutable_predicate, volatile_parts
from turbina.indexes.workload_file import split_statements

PREFIX = "turbina: check:"


@dataclass(frozen=True)
class CheckFinding:
    """One problem (``error``: the statement would fail) or remark (``note``) about a file."""

    line: int
    severity: str
    subject: str
    message: str
    fix: str | None = None

    def render(self, source: str) -> str:
        text = f"{PREFIX} {source}:{self.line}: {self.severity}: {self.subject}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


def _schema(engine: sa.Engine | None) -> dict[str, set[str]] | None:
    if engine is None:
        return None
    inspector = sa.inspect(engine)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


def check_sql(
    text: str, engine: sa.Engine | None = None, today: date | None = None
) -> list[CheckFinding]:
    """Findings for every statement of ``text`` (PostgreSQL rules; SQLite ignores CONCURRENTLY)."""
    schema = _schema(engine)
    findings: list[CheckFinding] = []
    in_transaction = False
    concurrent_lines: list[int] = []
    for line, statement in split_statements(text):
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head in {"BEGIN", "START"}:
            in_transaction = True
            continue
        if head in {"COMMIT", "ROLLBACK", "END"}:
            in_transaction = False
            continue
        try:
            tree = sqlglot.parse_one(statement, read="postgres")
        except SqlglotError as exc:
            findings.append(
                CheckFinding(
                    line, "note", "statement", f"not parsed, not checked ({exc.__class__.__name__})"
                )
            )
            continue
        if tree is None:
            continue
        concurrently = (
            bool(tree.args.get("concurrently")) or "CONCURRENTLY" in statement.upper().split()
        )
        if concurrently:
            if in_transaction:
                findings.append(
                    CheckFinding(
                        line,
                        "error",
                        _subject(tree),
                        "CONCURRENTLY cannot run inside a transaction block (BEGIN ... COMMIT)",
                        "remove the BEGIN/COMMIT around it; each CONCURRENTLY statement runs on its own",
                    )
                )
            else:
                concurrent_lines.append(line)
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "INDEX":
            findings += _check_index(tree, line, schema, today)
    if concurrent_lines:
        findings.append(
            CheckFinding(
                concurrent_lines[0],
                "note",
                f"{len(concurrent_lines)} CONCURRENTLY statement(s)",
                "cannot run inside a transaction block: not in a migration's transaction, not with psql -1 "
                "or --single-transaction; without IF NOT EXISTS a re-run fails, and a failed build leaves an "
                "INVALID index to drop",
                "in Alembic wrap them in op.get_context().autocommit_block(), or use turbina indexes apply",
            )
        )
    return sorted(findings, key=lambda f: (f.line, f.severity))


def _subject(tree: exp.Expr) -> str:
    index = tree.this if isinstance(tree, exp.Create) else None
    if isinstance(index, exp.Index) and index.this is not None:
        return f"index {index.this.name}"
    return tree.key.upper()


def _check_index(
    tree: exp.Create, line: int, schema: dict[str, set[str]] | None, today: date | None
) -> list[CheckFinding]:
    index = tree.this
    if not isinstance(index, exp.Index):
        return []
    subject = _subject(tree)
    params = index.args.get("params")
    out: list[CheckFinding] = []
    where = params.args.get("where") if params is not None else None
    if where is not None:
        volatile = volatile_parts(where.this)
        if volatile:
            fix = immutable_predicate(where.this.sql("postgres"), "postgresql", today)
            hint = (
                f"use a fixed date: WHERE {fix.sql} and rebuild the index periodically, or drop the predicate"
                if fix.sql
                else "drop the predicate or use only constants in it"
            )
            out.append(
                CheckFinding(
                    line,
                    "error",
                    subject,
                    f"index predicate uses {', '.join(dict.fromkeys(volatile))}, which is not IMMUTABLE: "
                    "PostgreSQL rejects it (functions in index predicate must be marked IMMUTABLE)",
                    hint,
                )
            )
    columns = params.args.get("columns") or [] if params is not None else []
    for column in columns:
        volatile = volatile_parts(column)
        if volatile:
            out.append(
                CheckFinding(
                    line,
                    "error",
                    subject,
                    f"index expression uses {', '.join(volatile)}, which is not IMMUTABLE",
                    "index the column itself",
                )
            )
    table = index.args.get("table")
    if schema is not None and isinstance(table, exp.Table):
        if table.name not in schema:
            out.append(
                CheckFinding(
                    line,
                    "error",
                    subject,
                    f"table {table.name} does not exist",
                    "check the table name against the database",
                )
            )
        else:
            referenced = {c.name for c in index.find_all(exp.Column)}
            unknown = sorted(referenced - schema[table.name])
            if unknown:
                out.append(
                    CheckFinding(
                        line,
                        "error",
                        subject,
                        f"unknown column(s) of {table.name}: {', '.join(unknown)}",
                        "check the column names against the model",
                    )
                )
    return out


def check_file(
    path: str | Path, engine: sa.Engine | None = None, today: date | None = None
) -> list[CheckFinding]:
    """``check_sql`` over a file; a missing file is a ``TurbinaError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TurbinaError(
            f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
            "pass an existing .sql file",
        ) from None
    return check_sql(text, engine, today)
