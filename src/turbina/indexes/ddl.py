"""Index DDL: valid statements, an Alembic migration, and a safe ``apply``.

The migration is one revision for PostgreSQL and SQLite (``portable_migration_text``): its
upgrade picks the statements for the database it runs on, so an app keeps one migration
history whatever it is deployed to; ``migration_text`` writes the one-dialect form.

PostgreSQL requires an index predicate to be IMMUTABLE, so ``CURRENT_DATE``/``now()`` are
refused; a relative date (``CURRENT_DATE - INTERVAL '90 days'``) can be pinned to a fixed date
(with a note saying so). ``CREATE INDEX CONCURRENTLY`` cannot run in a transaction block: the
PostgreSQL migration steps out with ``autocommit_block()`` (a SQLite one has no CONCURRENTLY),
``apply`` runs in autocommit under an advisory
lock and ``lock_timeout``, and an index a failed concurrent build left INVALID is dropped.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.errors import TurbinaError
from turbina.indexes.spec import IndexSpec, sqlglot_dialect

TAG = "/* turbina */"
ADVISORY_LOCK_KEY = int(hashlib.sha1(b"turbina.indexes.apply").hexdigest()[:15], 16)
VOLATILE_NODES: tuple[type[exp.Expr], ...] = (
    exp.CurrentDate,
    exp.CurrentTimestamp,
    exp.CurrentTime,
    exp.Localtimestamp,
    exp.Rand,
)
VOLATILE_FUNCTIONS = frozenset(
    {
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "localtime",
        "random",
        "nextval",
        "setseed",
        "gen_random_uuid",
        "txid_current",
        "age",
        "current_setting",
    }
)


def volatile_parts(node: exp.Expr) -> list[str]:
    """SQL of every non-immutable call inside ``node`` (empty when the node is immutable)."""
    found = [n.sql("postgres") for n in node.find_all(*VOLATILE_NODES)]
    for fn in node.find_all(exp.Anonymous):
        if str(fn.this).lower() in VOLATILE_FUNCTIONS:
            found.append(fn.sql("postgres"))
    for lit in node.find_all(exp.Literal):
        if lit.is_string and str(lit.this).strip().lower() in {
            "now",
            "today",
            "tomorrow",
            "yesterday",
        }:
            found.append(lit.sql("postgres"))
    return found


def _shift(day: date, amount: int, unit: str) -> date:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return day + timedelta(days=amount)
    if unit == "week":
        return day + timedelta(weeks=amount)
    if unit in {"month", "year"}:
        months = day.year * 12 + day.month - 1 + amount * (12 if unit == "year" else 1)
        year, month = divmod(months, 12)
        last = calendar.monthrange(year, month + 1)[1]
        return date(year, month + 1, min(day.day, last))
    raise ValueError(unit)


def _relative_date(node: exp.Expr, today: date) -> date | None:
    """The date of ``CURRENT_DATE [+-] INTERVAL 'n unit'`` (or ``[+-] n`` days), else None."""
    if isinstance(node, exp.CurrentDate):
        return today
    if isinstance(node, exp.Sub | exp.Add) and isinstance(node.this, exp.CurrentDate):
        sign = -1 if isinstance(node, exp.Sub) else 1
        delta = node.expression
        try:
            if isinstance(delta, exp.Interval):
                text = str(delta.this.this if delta.this is not None else "").strip()
                parts = text.split()
                unit = (
                    str(delta.args["unit"].this) if delta.args.get("unit") is not None else parts[1]
                )
                return _shift(today, sign * int(parts[0]), unit)
            if isinstance(delta, exp.Literal) and not delta.is_string:
                return today + timedelta(days=sign * int(delta.this))
        except (ValueError, IndexError, KeyError):
            return None
    return None


@dataclass(frozen=True)
class PredicateFix:
    """Outcome of making a predicate immutable: the new SQL (None = refused) and why."""

    sql: str | None
    note: str | None = None


def immutable_predicate(
    where: str, dialect: str = "postgresql", today: date | None = None
) -> PredicateFix:
    """Pin relative dates in ``where`` to fixed dates; refuse other non-immutable calls."""
    today = today or date.today()
    try:
        tree = sqlglot.parse_one(where, read=sqlglot_dialect(dialect))
    except SqlglotError as exc:
        return PredicateFix(None, f"predicate does not parse: {exc}")
    if not volatile_parts(tree):
        return PredicateFix(where)
    pinned: list[str] = []

    def pin(node: exp.Expr) -> exp.Expr:
        fixed = _relative_date(node, today)
        if fixed is None:
            return node
        pinned.append(f"{node.sql('postgres')} -> {fixed.isoformat()}")
        return exp.cast(exp.Literal.string(fixed.isoformat()), exp.DataType.build("date"))

    rewritten = tree.transform(pin)
    left = volatile_parts(rewritten)
    if left:
        return PredicateFix(
            None, f"not IMMUTABLE, PostgreSQL rejects it in an index predicate: {', '.join(left)}"
        )
    note = (
        f"relative date pinned ({'; '.join(pinned)}): the index no longer slides with time, "
        "rebuild it periodically or drop the predicate"
    )
    return PredicateFix(rewritten.sql(sqlglot_dialect(dialect)), note)


def create_sql(
    spec: IndexSpec, dialect: str, concurrently: bool = False, if_not_exists: bool = False
) -> str:
    """``CREATE INDEX`` text for ``spec`` in ``dialect`` (CONCURRENTLY only on PostgreSQL)."""
    words = ["CREATE", "UNIQUE INDEX" if spec.unique else "INDEX"]
    if concurrently and dialect == "postgresql":
        words.append("CONCURRENTLY")
    if if_not_exists:
        words.append("IF NOT EXISTS")
    sql = f"{' '.join(words)} {spec.name} ON {spec.table} ({', '.join(spec.columns)})"
    if spec.include and dialect == "postgresql":
        sql += f" INCLUDE ({', '.join(spec.include)})"
    if spec.where:
        sql += f" WHERE {spec.where}"
    return sql


def checked(
    specs: Sequence[IndexSpec], dialect: str, today: date | None = None
) -> tuple[list[IndexSpec], list[str]]:
    """Specs with immutable predicates (relative dates pinned) and notes for the rest."""
    out: list[IndexSpec] = []
    notes: list[str] = []
    for spec in specs:
        if spec.where is None:
            out.append(spec)
            continue
        fix = immutable_predicate(spec.where, dialect, today)
        if fix.sql is None:
            notes.append(f"refused {spec.describe()}: {fix.note}")
            continue
        if fix.note:
            notes.append(f"{spec.describe()}: {fix.note}")
        out.append(spec.with_where(fix.sql))
    return out, notes


def emit_sql(specs: Sequence[IndexSpec], dialect: str) -> str:
    """A SQL script, one statement per index, safe to run twice (IF NOT EXISTS)."""
    lines = [
        "-- generated by turbina indexes advise",
        "-- CONCURRENTLY: run outside a transaction block"
        if dialect == "postgresql"
        else "-- SQLite: plain CREATE INDEX",
    ]
    lines += [create_sql(s, dialect, concurrently=True, if_not_exists=True) + ";" for s in specs]
    return "\n".join(lines) + "\n"


def migration_text(
    specs: Sequence[IndexSpec],
    revision: str,
    down_revision: str | None,
    message: str = "turbina: advised indexes",
    dialect: str = "postgresql",
) -> str:
    """An Alembic migration for ``dialect``. PostgreSQL: ``CREATE INDEX CONCURRENTLY`` outside
    the migration's transaction (``autocommit_block``); SQLite (which has no CONCURRENTLY):
    plain ``CREATE INDEX`` inside it."""
    pg = dialect == "postgresql"
    concurrently = "CONCURRENTLY " if pg else ""
    indent = "        " if pg else "    "
    ups = "\n".join(f"{indent}op.execute({create_sql(s, dialect, pg, True)!r})" for s in specs)
    downs = "\n".join(
        f"{indent}op.execute({f'DROP INDEX {concurrently}IF EXISTS {s.name}'!r})"
        for s in reversed(specs)
    )
    if pg:
        upgrade = (
            "    # CREATE INDEX CONCURRENTLY cannot run inside the migration's transaction.\n"
            "    with op.get_context().autocommit_block():\n" + (ups or f"{indent}pass")
        )
        downgrade = "    with op.get_context().autocommit_block():\n" + (downs or f"{indent}pass")
    else:
        upgrade = f"    # {dialect}: plain CREATE INDEX, in the migration's transaction.\n" + (
            ups or f"{indent}pass"
        )
        downgrade = downs or f"{indent}pass"
    return f'''"""{message}

Revision ID: {revision}
Revises: {down_revision or ""}
"""

from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


# The dialects a portable migration has statements for (the ones ``create_sql`` knows).
PORTABLE_DIALECTS = ("postgresql", "sqlite")


def portable_migration_text(
    sets: Mapping[str, Sequence[IndexSpec]],
    revision: str,
    down_revision: str | None,
    message: str = "turbina: advised indexes",
    note: str = "",
) -> str:
    """One Alembic revision for every dialect in ``sets`` (dialect name -> its indexes): the
    upgrade picks the statements for ``op.get_bind().dialect.name``. PostgreSQL: ``CREATE INDEX
    CONCURRENTLY IF NOT EXISTS`` outside the migration's transaction (``autocommit_block``);
    SQLite: plain ``CREATE INDEX IF NOT EXISTS`` inside it. Downgrade drops them (CONCURRENTLY
    on PostgreSQL). A database of a dialect not in ``sets`` fails the upgrade with a message
    naming it. ``note`` goes into the docstring (where the sets came from)."""
    unknown = sorted(set(sets) - set(PORTABLE_DIALECTS))
    if unknown:
        raise TurbinaError(
            f"no migration statements for dialect {', '.join(unknown)}",
            f"pass index sets for {' or '.join(PORTABLE_DIALECTS)} only",
        )

    def block(name: str, lines: list[str]) -> str:
        body = "".join(f"        {line!r},\n" for line in lines)
        return f"    {name!r}: [\n{body}    ],\n"

    creates = "".join(
        block(d, [create_sql(s, d, d == "postgresql", True) for s in specs])
        for d, specs in sets.items()
    )
    drops = "".join(
        block(
            d,
            [
                f"DROP INDEX {'CONCURRENTLY ' if d == 'postgresql' else ''}IF EXISTS {s.name}"
                for s in reversed(specs)
            ],
        )
        for d, specs in sets.items()
    )
    doc = f"{message}\n\n{note.strip()}\n" if note.strip() else f"{message}\n"
    return f'''"""{doc}
Revision ID: {revision}
Revises: {down_revision or ""}
"""

from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None

# Per dialect (op.get_bind().dialect.name): the statements upgrade and downgrade run.
CREATE = {{
{creates}}}
DROP = {{
{drops}}}


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in statements:
        raise NotImplementedError(
            f"revision {{revision}} has no index statements for {{dialect}}: run "
            f"`turbina indexes advise --format migration` on a {{dialect}} database"
        )
    if dialect == "postgresql":
        # CREATE/DROP INDEX CONCURRENTLY cannot run inside the migration's transaction.
        with op.get_context().autocommit_block():
            for statement in statements[dialect]:
                op.execute(statement)
    else:
        for statement in statements[dialect]:  # plain DDL, in the migration's transaction
            op.execute(statement)


def upgrade() -> None:
    _run(CREATE)


def downgrade() -> None:
    _run(DROP)
'''


def portable_sets(
    specs: Sequence[IndexSpec], dialect: str
) -> tuple[dict[str, list[IndexSpec]], list[str]]:
    """Index sets for every portable dialect from the advice of one: ``dialect`` gets
    ``specs``; each other dialect the same indexes, with the predicate transpiled by sqlglot
    (and checked immutable). A predicate that does not carry over leaves that index out, with
    a note. The other sets are the same choice, not advice measured there."""
    sets: dict[str, list[IndexSpec]] = {dialect: list(specs)}
    notes: list[str] = []
    for other in PORTABLE_DIALECTS:
        if other == dialect:
            continue
        moved: list[IndexSpec] = []
        for spec in specs:
            if spec.where is None:
                moved.append(spec)
                continue
            try:
                where = sqlglot.transpile(
                    spec.where, read=sqlglot_dialect(dialect), write=sqlglot_dialect(other)
                )[0]
            except SqlglotError as exc:
                notes.append(f"{other}: left out {spec.describe()}: {exc}")
                continue
            moved.append(spec.with_where(where))
        kept, refused = checked(moved, other)
        sets[other] = kept
        notes += [f"{other}: {note}" for note in refused]
    return sets, notes


@dataclass
class ApplyResult:
    """What ``apply`` did: created, already present, and INVALID indexes dropped (with why)."""

    created: list[IndexSpec] = field(default_factory=list)
    existing: list[IndexSpec] = field(default_factory=list)
    invalid: list[tuple[IndexSpec, str]] = field(default_factory=list)


def apply(
    engine: sa.Engine, specs: Sequence[IndexSpec], lock_timeout_ms: int = 5000
) -> ApplyResult:
    """Create ``specs`` on the database. PostgreSQL: advisory lock, ``lock_timeout``,
    CONCURRENTLY, then ``indisvalid``; a build that fails leaves no INVALID index behind."""
    result = ApplyResult()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name != "postgresql":
            for spec in specs:
                before = _exists(conn, spec.name)
                conn.exec_driver_sql(
                    f"{TAG} {create_sql(spec, engine.dialect.name, if_not_exists=True)}"
                )
                (result.existing if before else result.created).append(spec)
            return result
        conn.exec_driver_sql(f"{TAG} SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})")
        try:
            conn.exec_driver_sql(f"{TAG} SET lock_timeout = {int(lock_timeout_ms)}")
            for spec in specs:
                _apply_pg(conn, spec, result)
        finally:
            conn.exec_driver_sql(f"{TAG} SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})")
            conn.exec_driver_sql(f"{TAG} RESET lock_timeout")
    return result


def _exists(conn: sa.Connection, name: str) -> bool:
    if conn.dialect.name == "postgresql":
        return (
            conn.exec_driver_sql(
                f"{TAG} SELECT to_regclass(%(n)s) IS NOT NULL", {"n": name}
            ).scalar()
            is True
        )
    row = conn.exec_driver_sql(
        f"{TAG} SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
    )
    return row.first() is not None


def _valid(conn: sa.Connection, name: str) -> bool | None:
    return conn.exec_driver_sql(
        f"{TAG} SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.oid = to_regclass(%(n)s)",
        {"n": name},
    ).scalar()


def _apply_pg(conn: sa.Connection, spec: IndexSpec, result: ApplyResult) -> None:
    if _valid(conn, spec.name) is False:  # a leftover of an earlier failed build
        conn.exec_driver_sql(f"{TAG} DROP INDEX CONCURRENTLY IF EXISTS {spec.name}")
    before = _exists(conn, spec.name)
    error = ""
    try:
        conn.exec_driver_sql(
            f"{TAG} {create_sql(spec, 'postgresql', concurrently=True, if_not_exists=True)}"
        )
    except sa.exc.DBAPIError as exc:
        error = str(exc.orig).strip().splitlines()[0]
    valid = _valid(conn, spec.name)
    if valid is False:
        conn.exec_driver_sql(f"{TAG} DROP INDEX CONCURRENTLY IF EXISTS {spec.name}")
        result.invalid.append((spec, error or "the concurrent build left an INVALID index"))
    elif valid is None:
        result.invalid.append((spec, error or "index missing after CREATE"))
    elif error:
        raise TurbinaError(
            f"creating {spec.name} failed: {error}",
            "see the PostgreSQL log; nothing was left INVALID",
        )
    else:
        (result.existing if before else result.created).append(spec)
