"""``turbina queries``, ``turbina nplusone`` and ``turbina slow``: the query reports.

By default the commands read the store the app's configuration names (every worker, every
host) over ``--window`` — what the running app measured, not this process; ``--from PATH``
reads a JSON snapshot written by ``QueriesState.save_snapshot`` instead (with the request
monitor off, the ``TURBINA_QUERIES_SNAPSHOT`` file the app writes at exit is read when it
exists). ``--json`` prints the JSON API's data (``turbina.monitor.api``). Everything printed
is redacted (fingerprints and relationship names only).

SQL columns fit the terminal (``COLUMNS``, else 160 characters when not a terminal): select
lists fold to their first item and a cut keeps the part that tells a statement apart from
the others shown; ``--wide`` prints every statement whole.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaCommand, readable_file, require_state
from turbina.flask.cli.output import table
from turbina.flask.cli.requests import empty_store_line, store_reading
from turbina.flask.state import TurbinaState
from turbina.monitor import api
from turbina.queries.explain import is_explainable
from turbina.queries.shorten import compact, fit
from turbina.queries.slow import SlowRules, SlowStatement, slow_statements
from turbina.store.model import WINDOW_HELP, Reading

DEFAULT_COLUMNS = 160  # when the output is not a terminal and COLUMNS is not set
MIN_SQL_WIDTH = 40
SUBJECT_WIDTH = 80  # the nplusone table's subject column; the details below print it whole

_QUERY_FIELDS = ("engine", "calls", "total_ms", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
_FINDING_FIELDS = ("requests", "max_loads", "kind", "subject", "endpoint", "fix", "callsite")


_SNAPSHOT_FIX = "pass a JSON file written by QueriesState.save_snapshot"


def _read_snapshot(source: Path) -> dict[str, Any]:
    readable_file(
        source,
        "snapshot file",
        "pass the TURBINA_QUERIES_SNAPSHOT file the app wrote at exit",
    )
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TurbinaError(
            f"snapshot {source} is not text (not UTF-8): not a JSON snapshot", _SNAPSHOT_FIX
        ) from None
    except OSError as exc:
        raise TurbinaError(
            f"cannot read snapshot {source}: {exc.strerror or exc}", _SNAPSHOT_FIX
        ) from None
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError
        raise TurbinaError(f"snapshot {source} is not valid JSON: {exc}", _SNAPSHOT_FIX) from None
    except RecursionError:
        raise TurbinaError(f"snapshot {source} is nested too deeply", _SNAPSHOT_FIX) from None
    problem = _shape_problem(data)
    if problem:
        raise TurbinaError(f"{source} is not a Turbina query snapshot: {problem}", _SNAPSHOT_FIX)
    return dict(data)


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"expected a JSON object, found {_json_kind(data)}"
    missing = [name for name in ("queries", "findings") if name not in data]
    if missing:
        return f"no {' or '.join(repr(m) for m in missing)} key"
    for name, fields in (("queries", _QUERY_FIELDS), ("findings", _FINDING_FIELDS)):
        rows = data.get(name, [])
        if not isinstance(rows, list):
            return f"{name!r} is not a list"
        for row in rows:
            if not isinstance(row, dict) or any(f not in row for f in fields):
                return f"an entry of {name!r} lacks one of {', '.join(fields)}"
            numbers = fields[1:] if name == "queries" else fields[:2]
            if any(not _is_number(row[f]) for f in numbers):
                return f"an entry of {name!r} has a non-numeric {', '.join(numbers)}"
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class Source:
    """What a report reads: the store's window (``reading``) or a snapshot file (``path``)."""

    snapshot: dict[str, Any]
    reading: Reading | None = None
    path: Path | None = None
    window: str = ""
    state: TurbinaState | None = None

    def empty(self, what: str) -> str:
        """The one line for a report with nothing in it, and how to fill it."""
        if self.state is None:
            return f"turbina: no {what} in {self.path}"
        return empty_store_line(what, self.window, self.state, ", or pass --from FILE")

    def window_data(self) -> dict[str, Any] | None:
        """The JSON API's ``window`` of the reading (``None`` for a snapshot file)."""
        return api.window(self.reading) if self.reading is not None else None


def _source(source: Path | None, command: str, window: str) -> Source:
    if source is not None:
        return Source(_read_snapshot(source), path=source)
    _app, state = require_state(command)
    if state.queries is None:
        raise TurbinaError("query recording is off for this app", "set TURBINA_ENABLED=true")
    saved = state.queries.snapshot_path
    if state.monitor is None and saved and Path(saved).is_file():
        return Source(_read_snapshot(Path(saved)), path=Path(saved))  # no store: the last run
    reading = store_reading(state, window, command)
    snapshot = api.queries_snapshot(reading, slow_query_ms=state.settings.slow_query_ms)
    snapshot["slow_rules"] = state.queries.slow_rules.to_dict()
    return Source(snapshot, reading, window=window, state=state)


def _echo_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=1, sort_keys=True, default=str))


# --- fitting the terminal ---------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    """A cell as ``output.table`` prints it (for measuring the other columns)."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def _fitted(
    headers: Sequence[str],
    rows: list[list[Any]],
    sql_column: int,
    wide: bool,
    cap: int | None = None,
) -> list[list[Any]]:
    """``rows`` with the text of ``sql_column`` fitted to what the terminal leaves it (at
    most ``cap`` characters)."""
    texts = [str(row[sql_column]) for row in rows]
    width: int | None = None
    if not wide:
        columns = shutil.get_terminal_size((DEFAULT_COLUMNS, 24)).columns
        others = sum(
            max([len(h)] + [len(_cell_text(row[i])) for row in rows])
            for i, h in enumerate(headers)
            if i != sql_column
        )
        width = max(MIN_SQL_WIDTH, columns - others - 2 * (len(headers) - 1))
        if cap is not None:
            width = min(width, cap)
    for row, text in zip(rows, fit(texts, width), strict=True):
        row[sql_column] = text
    return rows


_wide_option = click.option(
    "--wide", is_flag=True, default=False, help="Print every statement whole (no cut)."
)
_from_option = click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),  # checked by _read_snapshot: one line, exit 1
    default=None,
    help="Read a JSON snapshot (QueriesState.save_snapshot) instead of the store.",
)
_window_option = click.option(
    "--window",
    default="5m",
    show_default=True,
    help=f"What the store shows: {WINDOW_HELP}.",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, default=False, help="Print the JSON API's data."
)


def _plan_lines(plan: Any, fingerprint: str, *, stored: bool = False) -> list[str]:
    if not isinstance(plan, dict):
        if not is_explainable(fingerprint):
            return ["   (no plan: only read-only SELECTs are EXPLAINed)"]
        if stored:
            return [
                "   (no plan: plans stay in the worker that ran the statement, since they can "
                "show literal values; `--from` a snapshot of that worker has them)"
            ]
        return [
            "   (no plan yet: EXPLAIN runs when one run reaches TURBINA_SLOW_MEAN_MS or "
            "TURBINA_SLOW_QUERY_MS, unless TURBINA_EXPLAIN is off)"
        ]
    lines = [f"   {node}" for node in plan.get("nodes", []) if isinstance(node, str)]
    lines += [f"   ! {warning}" for warning in plan.get("warnings", []) if isinstance(warning, str)]
    return lines or ["   (empty plan)"]


# --- queries ---------------------------------------------------------------------------------


@click.command("queries", cls=TurbinaCommand)
@click.option(
    "--top",
    "top",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows to show.",
)
@click.option(
    "--sort",
    "sort",
    default="total",
    show_default=True,
    type=click.Choice(["total", "p95", "calls"]),
    help="Order by total time, p95 or calls.",
)
@click.option("--plans", is_flag=True, default=False, help="Print each statement's plan too.")
@_wide_option
@_window_option
@_json_option
@_from_option
def queries_command(
    top: int, sort: str, plans: bool, wide: bool, window: str, as_json: bool, source: Path | None
) -> None:
    """Heaviest statement fingerprints: calls, total, mean and p50/p95/p99 ms."""
    read = _source(source, "queries", window)
    snap = read.snapshot
    key = {"total": "total_ms", "p95": "p95_ms", "calls": "calls"}[sort]
    rows = sorted(snap.get("queries", []), key=lambda r: r[key], reverse=True)[:top]
    if as_json:
        _echo_json({"window": read.window_data(), "queries": rows})
        return
    if not rows:
        click.echo(read.empty("queries recorded"))
        return
    headers = [
        "engine",
        "calls",
        "total_ms",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "rows",
        "fingerprint",
    ]
    cells = [
        [
            r["engine"],
            r["calls"],
            r["total_ms"],
            r["mean_ms"],
            r["p50_ms"],
            r["p95_ms"],
            r["p99_ms"],
            r["max_ms"],
            r.get("rows"),
            str(r.get("fingerprint", "")),
        ]
        for r in rows
    ]
    click.echo(table(headers, _fitted(headers, cells, len(headers) - 1, wide)))
    if plans:
        click.echo("\nplans:")
        for number, r in enumerate(rows, start=1):
            shape = str(r.get("fingerprint", ""))
            click.echo(f"{number}. {compact(shape)}")
            for line in _plan_lines(r.get("plan"), shape, stored=read.reading is not None):
                click.echo(line)
    slow = snap.get("slow_total", 0)
    if slow:
        click.echo(f"\n{slow} slow queries logged (threshold {snap.get('slow_query_ms')} ms)")


# --- slow ------------------------------------------------------------------------------------


@click.command("slow", cls=TurbinaCommand)
@click.option(
    "--top",
    "top",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows to show.",
)
@_wide_option
@_window_option
@_json_option
@_from_option
def slow_command(top: int, wide: bool, window: str, as_json: bool, source: Path | None) -> None:
    """Statements slow relative to the app (share of DB time, mean over many calls, a full
    scan feeding a sort) with their plans, then the slow log (single runs over
    TURBINA_SLOW_QUERY_MS)."""
    read = _source(source, "slow", window)
    snap = read.snapshot
    rules = SlowRules.from_dict(snap.get("slow_rules"))
    queries = snap.get("queries", [])
    total = snap.get("db_total_ms")
    flagged = slow_statements(queries, rules, total if _is_number(total) else None)[:top]
    logged = [e for e in snap.get("slow_log", []) if isinstance(e, dict)][:top]
    if as_json:
        _echo_json(
            {
                "window": read.window_data(),
                "rules": rules.to_dict(),
                "flagged": [
                    dict(s.row, share=round(s.share, 4), why=list(s.reasons)) for s in flagged
                ],
                "slow": logged,
            }
        )
        return
    rule_text = (
        f"share >= {rules.share:.0%} of DB time, mean >= {rules.mean_ms:g} ms over "
        f">= {rules.min_calls} calls, or a full scan feeding a sort"
    )
    if not flagged and not logged:
        if not queries:
            click.echo(read.empty("queries recorded"))
            return
        click.echo(f"turbina: no statement is slow relative to the app ({rule_text})")
        return
    if flagged:
        _print_flagged(flagged, wide, rule_text, stored=read.reading is not None)
    else:
        click.echo(f"turbina: no statement is slow relative to the app ({rule_text})")
    if logged:
        _print_slow_log(logged, snap, wide)


def _print_flagged(
    flagged: list[SlowStatement], wide: bool, rule_text: str, *, stored: bool
) -> None:
    headers = ["engine", "calls", "total_ms", "share", "mean_ms", "p95_ms", "why", "fingerprint"]
    cells = [
        [
            s.row["engine"],
            s.row["calls"],
            s.row["total_ms"],
            f"{s.share:.0%}",
            s.row["mean_ms"],
            s.row["p95_ms"],
            "; ".join(s.reasons),
            str(s.row.get("fingerprint", "")),
        ]
        for s in flagged
    ]
    click.echo(table(headers, _fitted(headers, cells, len(headers) - 1, wide)))
    click.echo(f"\nflagged by: {rule_text}\n\nplans:")
    for number, s in enumerate(flagged, start=1):
        shape = str(s.row.get("fingerprint", ""))
        click.echo(f"{number}. {compact(shape)}")
        for line in _plan_lines(s.row.get("plan"), shape, stored=stored):
            click.echo(line)


def _print_slow_log(logged: list[dict[str, Any]], snap: dict[str, Any], wide: bool) -> None:
    threshold = snap.get("slow_query_ms")
    total = snap.get("slow_total", len(logged))
    click.echo(f"\nslow log (runs over {threshold} ms; newest {len(logged)} of {total}):")
    headers = ["at", "engine", "duration_ms", "endpoint", "sql"]
    cells = [
        [
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(e.get("at") or 0))),
            e.get("engine"),
            e.get("duration_ms"),
            e.get("endpoint"),
            str(e.get("sql", "")),
        ]
        for e in logged
    ]
    click.echo(table(headers, _fitted(headers, cells, len(headers) - 1, wide)))


# --- nplusone --------------------------------------------------------------------------------


@click.command("nplusone", cls=TurbinaCommand)
@_wide_option
@_window_option
@_json_option
@_from_option
def nplusone_command(wide: bool, window: str, as_json: bool, source: Path | None) -> None:
    """N+1 findings across requests: where they run, the query to change, the code to paste."""
    read = _source(source, "nplusone", window)
    rows = read.snapshot.get("findings", [])
    if as_json:
        _echo_json({"window": read.window_data(), "findings": rows})
        return
    if not rows:
        click.echo(read.empty("N+1 findings"))
        return
    headers = ["requests", "max_loads", "kind", "subject", "endpoint"]
    cells = [
        [r["requests"], r["max_loads"], r["kind"], str(r["subject"]), r["endpoint"]] for r in rows
    ]
    click.echo(table(headers, _fitted(headers, cells, 3, wide, cap=SUBJECT_WIDTH)))
    click.echo("\nfixes:")
    for number, r in enumerate(rows, start=1):
        for line in _finding_lines(number, r):
            click.echo(line)


def _finding_lines(number: int, row: dict[str, Any]) -> list[str]:
    """The numbered detail of one finding: where, the loop, the fix and where it goes."""
    endpoint = f" ({row['endpoint']})" if row.get("endpoint") else ""
    lines = [f"{number}. {compact(str(row['subject']))}{endpoint}"]
    if row.get("callsite"):
        lines.append(f"   at    {row['callsite']}")
    if row.get("loop"):
        lines.append(f"   loop  {row['loop']}")
    fix = str(row["fix"])
    if row["kind"] == "lazy_load":
        target = row.get("query_site")
        where = f"the query at {target}" if target else "the query that loads the rows"
        lines.append(f"   fix   .options({fix}) on {where}")
    else:
        lines.append(f"   fix   {fix}")
    return lines
