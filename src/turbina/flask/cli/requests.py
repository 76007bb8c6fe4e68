"""``turbina requests``: the running app's endpoints, from the store (every worker, every host).

The command reads the store the app's configuration names — not this process's memory — so
it shows what the served app measured: calls, p50/p95/p99, errors, DB share and queries per
request per url rule over ``--window``. ``store_reading`` is the read the other commands
(``queries``, ``nplusone``, ``cache stats``, ``indexes advise``) use to see the store too.
"""

from __future__ import annotations

import json
from typing import Any

import click

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaCommand, require_state
from turbina.flask.cli.output import clip, table
from turbina.flask.state import TurbinaState
from turbina.monitor import api
from turbina.store.model import WINDOW_HELP, Reading, parse_window

__all__ = ["empty_store_line", "requests_command", "store_reading"]


def store_reading(state: TurbinaState, window: str, command: str) -> Reading:
    """The store's merged numbers for ``window`` (``5m``, ``1h``, ``24h``, a start time), or a
    one-line ``TurbinaError`` (monitor off, bad window, store unreachable)."""
    monitor = state.monitor
    if monitor is None:
        raise TurbinaError(
            f"`{command}` reads the store and the request monitor is off for this app",
            "set TURBINA_MONITOR=true (and TURBINA_ENABLED=true)",
        )
    since = parse_window(window)
    if monitor.used_here():
        monitor.flush()  # this process served requests or used the cache: its numbers count
    try:
        return monitor.store.read(since)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise TurbinaError(
            f"cannot read the {monitor.store.describe()}: {exc.__class__.__name__}: {first}",
            "check that the store is up and TURBINA_STORE / TURBINA_REDIS_URL name it",
        ) from None


def empty_store_line(what: str, window: str, state: TurbinaState, also: str = "") -> str:
    """The one line a command prints when the store has nothing for it, and how to fill it."""
    return (
        f"turbina: no {what} in the store in the last {window} (the app's workers flush "
        f"every {state.settings.flush_interval_s:g} s: serve some requests, widen --window"
        f"{also})"
    )


@click.command("requests", cls=TurbinaCommand)
@click.option("--window", default="5m", show_default=True, help=f"Window: {WINDOW_HELP}.")
@click.option(
    "--sort",
    default="total",
    show_default=True,
    type=click.Choice(["total", "calls", "p95", "p99", "errors"]),
    help="Order by total time, calls, p95, p99 or errors.",
)
@click.option("--top", default=30, show_default=True, type=click.IntRange(min=1), help="Rows.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON API's `endpoints` data.")
def requests_command(window: str, sort: str, top: int, as_json: bool) -> None:
    """Endpoints of the running app: calls, p50/p95/p99, errors, DB share, queries/request,
    cache hit rate, Apdex."""
    _app, state = require_state("requests")
    reading = store_reading(state, window, "requests")
    data = api.endpoints(reading, sort=sort, top=top)
    if as_json:
        click.echo(json.dumps(data, indent=1, sort_keys=True))
        return
    rows = data["endpoints"]
    if not rows:
        click.echo(empty_store_line("requests recorded", window, state))
        return
    click.echo(
        table(
            [
                "calls",
                "method",
                "endpoint",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "errors",
                "db_share",
                "queries/req",
                "cache_hit",
                "apdex",
            ],
            [
                [
                    r["calls"],
                    r["method"],
                    clip(r["endpoint"], 60),
                    r["p50_ms"],
                    r["p95_ms"],
                    r["p99_ms"],
                    f"{100 * r['error_rate']:.1f}%",
                    f"{100 * r['db_share']:.1f}%",
                    r["queries_per_request"],
                    _cache_cell(r),
                    r["apdex"],
                ]
                for r in rows
            ],
        )
    )


def _cache_cell(row: dict[str, Any]) -> str | None:
    """The endpoint's cache hit rate, or ``None`` (``-``) when it looked nothing up."""
    if not row["cache_hits"] + row["cache_misses"]:
        return None
    return f"{100 * row['cache_hit_rate']:.1f}%"
