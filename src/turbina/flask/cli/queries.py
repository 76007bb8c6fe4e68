"""``flask turbina queries`` and ``flask turbina nplusone``: tabular reports.

Stats live in the process that served the queries; the commands read the current app's
state, or a JSON snapshot written by ``QueriesState.save_snapshot`` — ``--from PATH``, or the
``TURBINA_QUERIES_SNAPSHOT`` file the app writes at exit when this process has no data.
Everything printed is redacted (fingerprints and relationship names only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaCommand, readable_file, require_state
from turbina.flask.cli.output import clip, table

SQL_WIDTH = 90

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


def _snapshot(source: Path | None, command: str) -> dict[str, Any]:
    if source is not None:
        return _read_snapshot(source)
    _app, state = require_state(command)
    if state.queries is None:
        raise TurbinaError("query recording is off for this app", "set TURBINA_ENABLED=true")
    own = dict(state.queries.snapshot(top=10_000))
    saved = state.queries.snapshot_path
    if not own["queries"] and not own["findings"] and saved and Path(saved).is_file():
        return _read_snapshot(Path(saved))  # this process served nothing: the app's last run
    return own


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
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),  # checked by _read_snapshot: one line, exit 1
    default=None,
    help="Read a JSON snapshot instead of this process's stats.",
)
def queries_command(top: int, sort: str, source: Path | None) -> None:
    """Heaviest statement fingerprints: calls, total, mean and p50/p95/p99 ms."""
    snap = _snapshot(source, "queries")
    key = {"total": "total_ms", "p95": "p95_ms", "calls": "calls"}[sort]
    rows = sorted(snap.get("queries", []), key=lambda r: r[key], reverse=True)[:top]
    if not rows:
        click.echo("turbina: no queries recorded yet")
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
    click.echo(
        table(
            headers,
            [
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
                    clip(str(r.get("fingerprint", "")), SQL_WIDTH),
                ]
                for r in rows
            ],
        )
    )
    slow = snap.get("slow_total", 0)
    if slow:
        click.echo(f"\n{slow} slow queries logged (threshold {snap.get('slow_query_ms')} ms)")


@click.command("nplusone", cls=TurbinaCommand)
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),  # checked by _read_snapshot: one line, exit 1
    default=None,
    help="Read a JSON snapshot instead of this process's findings.",
)
def nplusone_command(source: Path | None) -> None:
    """N+1 findings across requests, with the loader to use."""
    snap = _snapshot(source, "nplusone")
    rows = snap.get("findings", [])
    if not rows:
        click.echo("turbina: no N+1 findings")
        return
    headers = ["requests", "max_loads", "kind", "subject", "endpoint", "fix", "callsite"]
    click.echo(
        table(
            headers,
            [
                [
                    r["requests"],
                    r["max_loads"],
                    r["kind"],
                    clip(str(r["subject"]), 60),
                    r["endpoint"],
                    clip(str(r["fix"]), 70),
                    r["callsite"],
                ]
                for r in rows
            ],
        )
    )
