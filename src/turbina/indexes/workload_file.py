"""The workload file format: SQL statements with hints, or a ``pg_stat_statements`` CSV export.

SQL (``.sql``, any other name): statements end with ``;`` (the last one may omit it). A hint
is a ``--`` comment of ``key=value`` pairs, optionally after ``turbina:``::

    -- turbina: calls=120 mean_ms=3.5 label=listar constant=status
    SELECT * FROM embarques WHERE status = 'ativo' ORDER BY data_embarque DESC LIMIT 20;
    SELECT * FROM fretes WHERE transportadora_id = 3;  -- calls=40
    UPDATE fretes SET status = 'PAGO' WHERE id = 7;    -- calls=300 rows=1

Keys: ``calls`` (executions, default 1), ``mean_ms`` (mean time; without it the statement
weighs calls × plan cost), ``label``, ``constant`` (columns whose value is the same on every
call: the only way a quoted value becomes a partial-index predicate), ``rows`` (rows a write
touches per call, default 1). A hint on its own line belongs to the next statement; a hint at
the end of a line, after a statement's ``;``, belongs to that statement; a hint inside a
statement belongs to it. SELECTs are advised on; INSERT/UPDATE/DELETE are the write load the
indexes are charged for; anything else, an unterminated quote and a bad hint are reported as
skipped with their line.

CSV (``.csv``): a ``pg_stat_statements`` export with a header naming ``query``, ``calls`` and
``mean_exec_time`` (or ``total_exec_time``; PostgreSQL 12's ``mean_time``/``total_time``),
optionally ``rows``, as written by ``\\copy (SELECT query, calls, mean_exec_time, rows FROM
pg_stat_statements) TO 'workload.csv' WITH CSV HEADER``. ``$n`` parameters are planned
generically.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from turbina.errors import TurbinaError
from turbina.indexes.workload import (
    MAX_QUERIES,
    Skipped,
    Workload,
    WorkloadQuery,
    cap,
    is_select,
    is_write,
    write_load,
)

HINT_KEYS = frozenset({"calls", "mean_ms", "label", "constant", "rows"})
_HINT = re.compile(r"^--\s*(turbina:)?\s*(.*?)\s*$", re.S)
_PAIR = re.compile(r"^[A-Za-z_]+=\S*$")


@dataclass
class Statement:
    """One statement of a SQL text: its first line, text (comments kept) and hint comments."""

    line: int
    text: str
    hints: list[tuple[int, str]] = field(default_factory=list)  # (line, comment text)
    unterminated: str | None = None  # what was left open at the end of the text


def scan_statements(text: str) -> list[Statement]:
    """Split ``text`` on top-level ``;`` (outside quotes, comments and dollar quotes) and
    attach each ``--`` comment to the statement it belongs to (see the module docstring)."""
    statements: list[Statement] = []
    pending: list[tuple[int, str]] = []  # own-line comments waiting for the next statement
    start, i, n = 0, 0, len(text)
    body_started = False  # the current chunk has non-comment text
    last_end_line: int | None = None  # line of the previous statement's ';'
    last_closed: Statement | None = None
    current_hints: list[tuple[int, str]] = []
    open_quote: str | None = None

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    while i < n:
        ch = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comment = (line_of(i), text[i:end])
            if body_started:
                current_hints.append(comment)
            elif last_closed is not None and last_end_line == comment[0]:
                last_closed.hints.append(comment)  # "SELECT ...; -- calls=5"
            else:
                pending.append(comment)
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                open_quote = f"comment opened at line {line_of(i)}"
                i = n
                break
            i = end + 2
            continue
        if ch in "'\"":
            j = i + 1
            while j < n and not (text[j] == ch and not text.startswith(ch * 2, j)):
                j += 2 if text.startswith(ch * 2, j) else 1
            if j >= n:
                what = "quoted string" if ch == "'" else "quoted identifier"
                open_quote = f"unterminated {what} opened at line {line_of(i)}"
                body_started = True
                i = n
                break
            body_started = True
            i = j + 1
            continue
        dollar = re.match(r"\$([A-Za-z_]\w*)?\$", text[i:]) if ch == "$" else None
        if dollar is not None:
            tag = dollar.group(0)
            end = text.find(tag, i + len(tag))
            if end < 0:
                open_quote = f"unterminated dollar-quoted string opened at line {line_of(i)}"
                body_started = True
                i = n
                break
            body_started = True
            i = end + len(tag)
            continue
        if ch == ";":
            if body_started:
                last_closed = _close(text, start, i, statements, pending, current_hints)
                pending, current_hints = [], []
                last_end_line = line_of(i)
            start = i + 1
            body_started = False
            i += 1
            continue
        if not ch.isspace():
            body_started = True
        i += 1
    if body_started:
        closed = _close(text, start, n, statements, pending, current_hints)
        closed.unterminated = open_quote
    return statements


def _close(
    text: str,
    start: int,
    end: int,
    out: list[Statement],
    pending: list[tuple[int, str]],
    inner: list[tuple[int, str]],
) -> Statement:
    chunk = text[start:end]
    # The statement starts at its first non-comment text: leading comment lines are hints.
    body = re.sub(r"^(\s*--[^\n]*\n?)*", "", chunk)
    offset = start + (len(chunk) - len(body))
    leading = len(body) - len(body.lstrip())
    line = text.count("\n", 0, offset + leading) + 1
    statement = Statement(line, body.strip(), [*pending, *inner])
    out.append(statement)
    return statement


def _hint_pairs(comment: str) -> tuple[dict[str, str], str | None]:
    """(pairs, error) of one comment; a comment that is not a hint gives ({}, None)."""
    match = _HINT.match(comment)
    if match is None:
        return {}, None
    marked, rest = bool(match.group(1)), match.group(2)
    parts = rest.split()
    if not parts or not all(_PAIR.match(p) for p in parts):
        return {}, (f"bad hint {comment.strip()!r}: write key=value pairs" if marked else None)
    pairs = dict(p.split("=", 1) for p in parts)
    unknown = sorted(set(pairs) - HINT_KEYS)
    if unknown:
        if not marked:
            return {}, None  # a plain comment that happens to contain '='
        return {}, f"unknown hint key(s) {', '.join(unknown)}: use {', '.join(sorted(HINT_KEYS))}"
    return pairs, None


def _hints(statement: Statement) -> tuple[dict[str, str], str | None]:
    merged: dict[str, str] = {}
    for _line, comment in statement.hints:
        pairs, error = _hint_pairs(comment)
        if error:
            return {}, error
        for key, value in pairs.items():
            if key in merged and merged[key] != value:
                return {}, f"two hints set {key} ({merged[key]} and {value})"
            merged[key] = value
    return merged, None


def _body(statement: Statement) -> str:
    # Drop the hint comments (outside quotes: the scanner saw them as comments).
    text = statement.text
    for _line, comment in statement.hints:
        text = text.replace(comment, "")
    return text.strip()


def parse_workload(text: str, name: str = "<workload>") -> Workload:
    """Reads, writes and skipped statements of a SQL workload text."""
    out = Workload()
    for statement in scan_statements(text):
        source = f"{name}:{statement.line}"
        if statement.unterminated:
            out.skipped.append(Skipped(source, statement.unterminated))
            continue
        hints, error = _hints(statement)
        if error is None:
            try:
                calls = int(hints.get("calls", "1"))
                mean_ms = float(hints["mean_ms"]) if "mean_ms" in hints else None
                rows = float(hints.get("rows", "1"))
                if calls < 1 or (mean_ms is not None and mean_ms < 0) or rows < 0:
                    raise ValueError
            except ValueError:
                error = f"bad hint value in {hints}: calls is an integer >= 1, mean_ms and rows numbers >= 0"
        if error is not None:
            out.skipped.append(Skipped(source, error))
            continue
        body = _body(statement)
        if is_select(body):
            constant = frozenset(c for c in hints.get("constant", "").split(",") if c)
            out.queries.append(
                WorkloadQuery(
                    sql=body,
                    calls=calls,
                    mean_ms=mean_ms,
                    label=hints.get("label"),
                    source=source,
                    constant=constant,
                )
            )
        elif is_write(body):
            load = write_load(body, calls, rows, source)
            if load is None:
                out.skipped.append(Skipped(source, "a write whose table cannot be read"))
            else:
                out.writes.append(load)
        else:
            word = body.split(None, 1)[0].upper() if body else "?"
            out.skipped.append(
                Skipped(source, f"{word} is neither a SELECT nor a write (INSERT/UPDATE/DELETE)")
            )
    return out


_CALLS = ("calls",)
_MEAN = ("mean_exec_time", "mean_time")
_TOTAL = ("total_exec_time", "total_time")


def parse_pg_stat_statements_csv(text: str, name: str = "<csv>") -> Workload:
    """Reads and writes of a ``pg_stat_statements`` CSV export (see the module docstring)."""
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip().lower(): h for h in reader.fieldnames or []}
    mean_col = next((header[c] for c in _MEAN if c in header), None)
    total_col = next((header[c] for c in _TOTAL if c in header), None)
    if "query" not in header or "calls" not in header or (mean_col or total_col) is None:
        raise TurbinaError(
            f"{name} is not a pg_stat_statements export: its header has no query, calls and "
            "mean_exec_time columns",
            "export with \\copy (SELECT query, calls, mean_exec_time, rows FROM pg_stat_statements) "
            "TO 'workload.csv' WITH CSV HEADER",
        )
    out = Workload()
    line = 1
    for record in reader:
        source = f"{name}:{line + 1}"
        line = reader.line_num
        query = (record.get(header["query"]) or "").strip()
        try:
            calls = int(float(record[header["calls"]]))
            if mean_col is not None:
                mean_ms = float(record[mean_col])
            else:
                assert total_col is not None
                mean_ms = float(record[total_col]) / max(calls, 1)
            affected = float(record[header["rows"]]) if "rows" in header else float(calls)
        except (TypeError, ValueError):
            out.skipped.append(Skipped(source, "calls / mean time is not a number"))
            continue
        if calls < 1 or not query:
            out.skipped.append(Skipped(source, "no calls or no query text"))
        elif is_select(query):
            out.queries.append(WorkloadQuery(query, None, calls, mean_ms, None, None, source))
        elif is_write(query):
            load = write_load(query, calls, affected / calls, source)
            if load is not None:
                out.writes.append(load)
            else:
                out.skipped.append(Skipped(source, "a write whose table cannot be read"))
        else:
            word = query.split(None, 1)[0].upper()
            out.skipped.append(Skipped(source, f"{word} is neither a SELECT nor a write"))
    return out


def read_workload(path: str | Path) -> Workload:
    """A workload file (``.csv``: pg_stat_statements export; else SQL with hints)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TurbinaError(
            f"cannot read workload file {path}: {getattr(exc, 'strerror', None) or exc}",
            "pass an existing .sql file",
        ) from None
    name = Path(path).name
    if str(path).lower().endswith(".csv"):
        workload = parse_pg_stat_statements_csv(text, name)
    else:
        workload = parse_workload(text, name)
    if not (workload.queries or workload.writes or workload.skipped):
        raise TurbinaError(
            f"workload file {path} has no SELECT statement",
            "put the slow SELECTs in the file, one per ';'",
        )
    return workload


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split SQL text on top-level ``;``: (first line number, statement text)."""
    return [(s.line, s.text) for s in scan_statements(text)]


def from_sql_text(text: str, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """The read statements of a workload text (the format is this module's docstring)."""
    return cap(parse_workload(text).queries, limit)


def from_sql_file(path: str | Path, limit: int = MAX_QUERIES) -> list[WorkloadQuery]:
    """The read statements of a workload file; a missing or empty file is a ``TurbinaError``."""
    return cap(read_workload(path).queries, limit)
