"""``flask turbina queries`` and ``flask turbina nplusone``: tabular reports.

Stats live in the process that served the queries; the commands read the current app's
state, or a JSON snapshot written by ``QueriesState.save_snapshot`` — ``--from PATH``, or the
``TURBINA_QUERIES_SNAPSHOT`` file the app writes at exit when this process has no data.
Everything printed is redacted (fingerprints and relationship names only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from turbina.errors import TurbinaError

SQL_WIDTH = 90


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Fixed-width text table; numbers right-aligned, text left-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) if rows else False
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if value is None:
        return "-"
    return str(value)


def _clip(text: str, width: int = SQL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _snapshot(source: Path | None) -> dict[str, Any]:
    if source is not None:
        try:
            return dict(json.loads(source.read_text()))
        except (OSError, ValueError) as exc:
            raise TurbinaError(
                f"cannot read snapshot {source}: {exc}",
                "pass a file written by QueriesState.save_snapshot",
            ) from None
    from turbina.extension import get_state

    state = get_state()
    if state.queries is None:
        raise TurbinaError("query recording is off for this app", "set TURBINA_ENABLED=true")
    own = dict(state.queries.snapshot(top=10_000))
    saved = state.queries.snapshot_path
    if not own["queries"] and not own["findings"] and saved and Path(saved).is_file():
        return _snapshot(Path(saved))  # this process served nothing: show the app's last run
    return own


def register(group: click.Group) -> None:
    """Add the query commands to the ``flask turbina`` group."""

    @group.command("queries")
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
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Read a JSON snapshot instead of this process's stats.",
    )
    def queries_command(top: int, sort: str, source: Path | None) -> None:
        """Heaviest statement fingerprints: calls, total, mean and p50/p95/p99 ms."""
        snap = _snapshot(source)
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
                        r["rows"],
                        _clip(r["fingerprint"]),
                    ]
                    for r in rows
                ],
            )
        )
        slow = snap.get("slow_total", 0)
        if slow:
            click.echo(f"\n{slow} slow queries logged (threshold {snap.get('slow_query_ms')} ms)")

    @group.command("nplusone")
    @click.option(
        "--from",
        "source",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Read a JSON snapshot instead of this process's findings.",
    )
    def nplusone_command(source: Path | None) -> None:
        """N+1 findings across requests, with the loader to use."""
        snap = _snapshot(source)
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
                        _clip(r["subject"], 60),
                        r["endpoint"],
                        _clip(r["fix"], 70),
                        r["callsite"],
                    ]
                    for r in rows
                ],
            )
        )
