"""The workload to advise on: reads with a sample parameter set and a weight, writes with a rate.

Sources: the query recorder's captured samples (``from_samples`` / ``writes_from_samples``),
PostgreSQL's ``pg_stat_statements`` and ``pg_stat_user_tables``, and a workload file
(``turbina.indexes.workload_file``: SQL with hints, or a ``pg_stat_statements`` CSV export).
Sample parameters stay in memory; anything shown to a person goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from turbina.errors import TurbinaError

TAG = "/* turbina */"
MAX_QUERIES = 300
MAX_WRITES = 300
_PG_PARAM = re.compile(r"\$(\d+)")
_WRITE_HEAD = re.compile(
    r"^\s*(?:with\b.*?\)\s*)?(insert|update|delete|merge|replace)\b", re.I | re.S
)
_WRITE_TABLE = re.compile(
    r"\b(?:insert\s+(?:or\s+\w+\s+)?into|replace\s+into|update(?:\s+only)?|delete\s+from|merge\s+into)"
    r"\s+((?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.I,
)


@dataclass(frozen=True)
class WorkloadQuery:
    """One read statement of the workload. ``mean_ms`` is None when the source has no timings
    (a SQL file without ``mean_ms``); the advisor then weighs it by its plan cost.

    ``constant`` names the columns (or placeholder keys) whose value is the same on every call
    of the statement — the only evidence on which a value becomes a partial-index predicate
    (besides ``IS NULL``/``TRUE``/``FALSE``, which are part of the statement's text).
    ``source`` says where it came from (``file.sql:12``) for the report.
    """

    sql: str
    params: Any = None
    calls: int = 1
    mean_ms: float | None = None
    fingerprint: str | None = None
    label: str | None = None
    source: str | None = None
    constant: frozenset[str] = frozenset()

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


@dataclass(frozen=True)
class WriteLoad:
    """Rows written to one table by one statement (or one table counter) over the workload.

    ``kind`` is insert, update or delete. ``columns`` are the columns an UPDATE sets (None when
    unknown: the update is taken to rewrite every index entry, as a non-HOT update does).
    """

    table: str
    kind: str
    calls: float = 1.0
    rows: float = 1.0  # rows per call
    columns: frozenset[str] | None = None
    source: str | None = None

    @property
    def total_rows(self) -> float:
        return self.calls * self.rows


@dataclass(frozen=True)
class Skipped:
    """A workload statement that is not used, where it was and why."""

    source: str
    reason: str

    def line(self) -> str:
        return f"turbina: skipped: {self.source}: {self.reason}"


@dataclass
class Workload:
    """Everything a source gave: reads to advise on, writes to charge, statements not used."""

    queries: list[WorkloadQuery] = field(default_factory=list)
    writes: list[WriteLoad] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def __iadd__(self, other: Workload) -> Workload:
        self.queries += other.queries
        self.writes += other.writes
        self.skipped += other.skipped
        return self


def as_workload(value: Workload | Iterable[WorkloadQuery]) -> Workload:
    """A ``Workload`` from a workload or a plain list of read statements."""
    return value if isinstance(value, Workload) else Workload(list(value))


def strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)


_strip_comments = strip_comments


def is_select(sql: str) -> bool:
    """True for a plain read (SELECT / WITH ... SELECT), never for writes or our own SQL."""
    if TAG in sql:
        return False
    text = strip_comments(sql).strip().lower()
    if not text.startswith(("select", "with", "(")):
        return False
    if re.search(r"\bfor\s+(update|share|no\s+key\s+update|key\s+share)\b", text):
        return False
    return not (text.startswith("with") and re.search(r"\b(insert|update|delete)\b", text))


def is_write(sql: str) -> bool:
    """True for INSERT / UPDATE / DELETE / MERGE (also behind a WITH), never our own SQL."""
    return TAG not in sql and bool(_WRITE_HEAD.match(strip_comments(sql)))


def _unquote(name: str) -> str:
    return name.split(".")[-1].strip('"')


def write_load(
    sql: str, calls: float, rows: float = 1.0, source: str | None = None
) -> WriteLoad | None:
    """The ``WriteLoad`` of one INSERT/UPDATE/DELETE statement (None when it is not one)."""
    text = strip_comments(sql)
    head = _WRITE_HEAD.match(text)
    if head is None:
        return None
    kind = head.group(1).lower()
    kind = {"replace": "insert", "merge": "update"}.get(kind, kind)
    columns: frozenset[str] | None = None
    table: str | None = None
    try:
        tree = sqlglot.parse_one(text, read="postgres")
    except SqlglotError:
        tree = None
    if isinstance(tree, exp.Update) and isinstance(tree.this, exp.Table):
        table = tree.this.name
        columns = frozenset(
            e.this.name
            for e in tree.expressions
            if isinstance(e, exp.EQ) and isinstance(e.this, exp.Column)
        )
    if table is None:
        match = _WRITE_TABLE.search(text)
        if match is None:
            return None
        table = _unquote(match.group(1))
    if kind == "insert" and " on conflict " in f" {text.lower()} " and "do update" in text.lower():
        columns = None  # an upsert may also update: charge it as an insert
    return WriteLoad(table, kind, float(calls), float(rows), columns, source)


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


def cap(queries: Iterable[WorkloadQuery], limit: int) -> list[WorkloadQuery]:
    """The ``limit`` heaviest statements."""
    return sorted(queries, key=lambda q: q.weight, reverse=True)[:limit]


_cap = cap


def _sample_rows(params: Any) -> tuple[Any, float]:
    """(one parameter set, rows per call): an executemany batch is many rows of one call."""
    if isinstance(params, list) and params and isinstance(params[0], tuple | dict | list):
        return params[0], float(len(params))
    return params, 1.0


def _constant_keys(sample: Any) -> frozenset[str]:
    # Placeholder keys whose value was the same on every recorded call (a bounded count of
    # distinct values per placeholder, kept by the recorder when it offers one).
    keys = getattr(sample, "constant_parameters", None) or ()
    return frozenset(str(k) for k in keys)


def from_samples(
    samples: Iterable[Any], engine_name: str | None = None, limit: int = MAX_QUERIES
) -> list[WorkloadQuery]:
    """Adapt the recorder's ``workload_samples()`` (objects with ``statement``, ``parameters``,
    ``calls``, ``mean_ms``, ``fingerprint``, ``engine_name``) to read statements."""
    out = []
    for sample in samples:
        if engine_name is not None and getattr(sample, "engine_name", engine_name) != engine_name:
            continue
        statement = str(sample.statement)
        if not is_select(statement):
            continue
        params, _rows = _sample_rows(sample.parameters)
        fingerprint = getattr(sample, "fingerprint", None)
        out.append(
            WorkloadQuery(
                sql=statement,
                params=params,
                calls=int(sample.calls),
                mean_ms=float(sample.mean_ms),
                fingerprint=fingerprint,
                source=f"recorded {str(fingerprint)[:40]}" if fingerprint else "recorded",
                constant=_constant_keys(sample),
            )
        )
    return cap(out, limit)


def writes_from_samples(
    samples: Iterable[Any], engine_name: str | None = None, limit: int = MAX_WRITES
) -> list[WriteLoad]:
    """The writes among the recorder's samples: table, calls, rows per call (the rows the calls
    affected when the driver reported them; else an executemany batch counts its rows and a
    single call one row), columns an UPDATE sets."""
    out = []
    for sample in samples:
        if engine_name is not None and getattr(sample, "engine_name", engine_name) != engine_name:
            continue
        statement = str(sample.statement)
        if not is_write(statement):
            continue
        _params, rows = _sample_rows(sample.parameters)
        # Rows the calls affected (the cursor's rowcount, counted by the recorder) say how many
        # index entries a call writes: an UPDATE ... WHERE status = %s may touch thousands.
        affected = getattr(sample, "rows", 0) or 0
        if affected > 0 and sample.calls:
            rows = affected / sample.calls
        load = write_load(statement, int(sample.calls), rows, "recorded write")
        if load is not None:
            out.append(load)
    return sorted(out, key=lambda w: w.total_rows, reverse=True)[:limit]


def workload_from_samples(samples: Sequence[Any], engine_name: str | None = None) -> Workload:
    """Reads and writes of the recorder's samples."""
    return Workload(from_samples(samples, engine_name), writes_from_samples(samples, engine_name))


def from_recorder(state: Any, engine_name: str | None = None) -> list[WorkloadQuery]:
    """The workload captured by ``app.extensions["turbina"].queries`` (duck-typed)."""
    getter = getattr(state, "workload_samples", None)
    if getter is None:
        raise TurbinaError(
            "the query recorder exposes no captured workload",
            "enable turbina.queries (TURBINA_ENABLED=true) or pass --workload FILE.sql",
        )
    return from_samples(getter(), engine_name=engine_name)


def _pg_rows(engine: sa.Engine, sql: str, params: dict[str, Any], what: str, fix: str) -> Any:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    except sa.exc.DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise TurbinaError(f"{what} is not available: {first}", fix) from None


def pg_stat_statements_workload(engine: sa.Engine, limit: int = MAX_QUERIES) -> Workload:
    """Top statements of ``pg_stat_statements`` in the current database: reads (generic plans)
    and writes (rows affected per call from its ``rows`` column)."""
    rows = _pg_rows(
        engine,
        f"{TAG} SELECT s.query, s.calls, s.mean_exec_time, s.queryid::text, s.rows "
        "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = current_database() ORDER BY s.calls * s.mean_exec_time DESC LIMIT :limit",
        {"limit": limit * 3},
        "pg_stat_statements",
        "run CREATE EXTENSION pg_stat_statements (and add it to shared_preload_libraries)",
    )
    out = Workload()
    for query, calls, mean_ms, queryid, affected in rows:
        source = f"pg_stat_statements {queryid}"
        if is_select(query):
            out.queries.append(
                WorkloadQuery(
                    sql=query,
                    calls=int(calls),
                    mean_ms=float(mean_ms),
                    fingerprint=queryid,
                    source=source,
                )
            )
        elif is_write(query) and calls:
            load = write_load(query, int(calls), float(affected or 0) / int(calls), source)
            if load is not None:
                out.writes.append(load)
    out.queries = cap(out.queries, limit)
    return out


def pg_workload(engine: sa.Engine, limit: int = MAX_QUERIES) -> Workload:
    """``--pg-stat-statements``: reads from ``pg_stat_statements``; writes from the per-table
    counters of ``pg_stat_user_tables`` (they tell HOT from non-HOT updates, which statement
    texts cannot), scaled to the ``pg_stat_statements`` window when both reset times are
    known; the statements' own writes when the counters are empty."""
    out = pg_stat_statements_workload(engine, limit)
    tables = writes_from_pg_stat_user_tables(engine)
    if not tables:
        return out
    try:
        ages = _pg_rows(
            engine,
            f"{TAG} SELECT extract(epoch FROM now() - (SELECT stats_reset FROM pg_stat_statements_info)), "
            "extract(epoch FROM now() - stats_reset) FROM pg_stat_database "
            "WHERE datname = current_database()",
            {},
            "pg_stat_statements_info",
            "use PostgreSQL 14 or later",
        )
    except TurbinaError:  # before PostgreSQL 14: no reset time, the windows are taken as equal
        ages = []
    scale = 1.0
    if ages and ages[0][0] and ages[0][1]:
        scale = float(ages[0][0]) / float(ages[0][1])
    out.writes = [
        WriteLoad(w.table, w.kind, w.calls * scale, w.rows, w.columns, w.source) for w in tables
    ]
    return out


def from_pg_stat_statements(engine: sa.Engine, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """The read statements of ``pg_stat_statements_workload``."""
    return pg_stat_statements_workload(engine, limit).queries


def writes_from_pg_stat_user_tables(engine: sa.Engine) -> list[WriteLoad]:
    """Per-table write counters since the statistics were reset: inserted rows, non-HOT
    updates (which add an entry to every index) and HOT updates (none; an index on a column
    they change would end HOT, but the counters do not say which columns, so they are not
    charged). Deletes are not charged: index entries go with VACUUM, not with the DELETE."""
    rows = _pg_rows(
        engine,
        f"{TAG} SELECT relname, n_tup_ins, n_tup_upd - n_tup_hot_upd FROM pg_stat_user_tables "
        "WHERE schemaname = current_schema()",
        {},
        "pg_stat_user_tables",
        "check the database URL",
    )
    out = []
    for table, inserted, cold in rows:
        if inserted:
            out.append(
                WriteLoad(table, "insert", float(inserted), 1.0, None, "pg_stat_user_tables")
            )
        if cold:
            out.append(WriteLoad(table, "update", float(cold), 1.0, None, "pg_stat_user_tables"))
    return out
