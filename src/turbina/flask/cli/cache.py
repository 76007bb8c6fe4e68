"""``flask turbina cache stats|invalidate|invalidate-tables``.

Counters come from the shared store, so with Redis the numbers are those of every process.
Output: one line per context, fixed columns; ``--json`` prints the ``stats()`` mapping.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaGroup, hide_password, require_state
from turbina.flask.cli.output import table
from turbina.flask.state import TurbinaState

if TYPE_CHECKING:  # the cache machinery loads with the app; `turbina --help` stays quick
    from turbina.cache.region import TurbinaCache

__all__ = ["cache_group"]

COLUMNS = (
    "hits",
    "misses",
    "stale_prevented",
    "lock_waits",
    "errors",
    "bytes",
    "oversize",
    "bypassed",
)


def _cache(command: str) -> TurbinaCache:
    return _state_and_cache(command)[1]


def _state_and_cache(command: str) -> tuple[TurbinaState, TurbinaCache]:
    _app, state = require_state(f"cache {command}")
    cache = state.cache
    if cache is None:
        raise TurbinaError("the cache is not installed on this app", "set TURBINA_ENABLED=true")
    return state, cache


def _unreachable(what: str, state: TurbinaState, cache: TurbinaCache) -> TurbinaError:
    """The store did not take a bump: say which store, and where it was looked for."""
    backend = str(cache.backend.name)
    url = state.settings.redis_url
    where = f" at {hide_password(url)}" if url and "redis" in backend else ""
    fix = (
        "check TURBINA_REDIS_URL (or REDIS_URL) and that Redis is up, then retry"
        if "redis" in backend
        else "check the cache store and retry"
    )
    return TurbinaError(f"{what}: the {backend} cache store{where} is unreachable", fix)


@click.group("cache", cls=TurbinaGroup, help="Context cache: counters and invalidation.")
def cache_group() -> None:
    """The ``cache`` command group."""


@cache_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the stats mapping as JSON.")
def stats_command(as_json: bool) -> None:
    """Per-context hits, misses, stale reads prevented, errors and bytes."""
    stats = _cache("stats").stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2, sort_keys=True))
        return
    headers = ("context", "hit_rate", *COLUMNS)
    rows = [
        (name, f"{c.get('hit_rate', 0.0) * 100:.2f}%", *(int(c.get(col, 0)) for col in COLUMNS))
        for name, c in sorted(stats["contexts"].items())
    ]
    click.echo(table(headers, rows))
    state = "degraded" if stats["degraded"] else "ok"
    click.echo(f"backend: {stats['backend']}  state: {state}")
    if stats["pending_bumps"]:
        click.echo(f"pending bumps (contexts bypassed): {', '.join(stats['pending_bumps'])}")
    if stats["store_error"]:
        click.echo(f"store error: {stats['store_error']}")


@cache_group.command("invalidate")
@click.argument("context")
def invalidate_command(context: str) -> None:
    """Make every entry of CONTEXT stale (one INCR; no key listing)."""
    state, cache = _state_and_cache("invalidate")
    if not cache.invalidate(context):
        raise _unreachable(f"could not invalidate context {context!r}", state, cache)
    click.echo(f"invalidated context {context}")


@cache_group.command("invalidate-tables")
@click.argument("tables", nargs=-1, required=True)
def invalidate_tables_command(tables: tuple[str, ...]) -> None:
    """Make every entry that depends on TABLES stale."""
    state, cache = _state_and_cache("invalidate-tables")
    if not cache.invalidate_tables(*tables):
        raise _unreachable(f"could not bump tables {', '.join(tables)}", state, cache)
    click.echo(f"invalidated tables {', '.join(tables)}")
