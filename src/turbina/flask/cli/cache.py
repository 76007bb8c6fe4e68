"""``flask turbina cache stats|invalidate|invalidate-tables``.

Counters come from the shared store, so with Redis the numbers are those of every process.
Output: one line per context, fixed columns — hits, misses and each miss by cause (first
sight, invalidated, expired, evicted, read errors), values not stored, bypassed calls — then
one line per context that did not store some values, with the reasons; ``--json`` prints
the ``stats()`` mapping.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from turbina.cache.backends.base import NOT_STORED
from turbina.errors import TurbinaError
from turbina.flask.cli.contract import TurbinaGroup, hide_password, require_state
from turbina.flask.cli.output import table
from turbina.flask.state import TurbinaState

if TYPE_CHECKING:  # the cache machinery loads with the app; `turbina --help` stays quick
    from turbina.cache.region import TurbinaCache

__all__ = ["cache_group"]

# (column, stats field)
COLUMNS = (
    ("hits", "hits"),
    ("misses", "misses"),
    ("first", "miss_first"),
    ("invalidated", "miss_invalidated"),
    ("expired", "miss_expired"),
    ("evicted", "miss_evicted"),
    ("read_errors", "miss_error"),
    ("not_stored", "not_stored"),
    ("bypassed", "bypassed"),
    ("lock_waits", "lock_waits"),
    ("errors", "errors"),
    ("bytes", "bytes"),
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
    """Per-context hits, misses by cause, values not stored, errors and bytes."""
    stats = _cache("stats").stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2, sort_keys=True))
        return
    headers = ("context", "hit_rate", "seen_hit_rate", *(column for column, _ in COLUMNS))
    contexts = sorted(stats["contexts"].items())
    rows = [
        (
            name,
            f"{c.get('hit_rate', 0.0) * 100:.2f}%",
            f"{c.get('hit_rate_seen', 0.0) * 100:.2f}%",
            *(int(c.get(field, 0)) for _, field in COLUMNS),
        )
        for name, c in contexts
    ]
    click.echo(table(headers, rows))
    for name, c in contexts:
        reasons = [
            f"{field.removeprefix('not_stored_')} {int(c[field])}"
            for field in NOT_STORED
            if c.get(field)
        ]
        if reasons:
            click.echo(f"not stored in {name}: {', '.join(reasons)}")
    state = "degraded" if stats["degraded"] else "ok"
    click.echo(f"backend: {stats['backend']}  state: {state}")
    if stats["pending_bumps"]:
        click.echo(f"pending bumps (contexts bypassed): {', '.join(stats['pending_bumps'])}")
    if stats["store_error"]:
        click.echo(f"store error: {stats['store_error']}")
    for warning in stats.get("warnings", []):
        click.echo(f"warning: {warning}")


@cache_group.command("invalidate")
@click.argument("context")
def invalidate_command(context: str) -> None:
    """Make every entry of CONTEXT stale (one INCR; no key listing)."""
    state, cache = _state_and_cache("invalidate")
    if not cache.invalidate(context):
        cache.drop_pending_bumps()  # reported here; no retry from an exiting command
        raise _unreachable(f"could not invalidate context {context!r}", state, cache)
    click.echo(f"invalidated context {context}")


@cache_group.command("invalidate-tables")
@click.argument("tables", nargs=-1, required=True)
def invalidate_tables_command(tables: tuple[str, ...]) -> None:
    """Make every entry that depends on TABLES stale."""
    state, cache = _state_and_cache("invalidate-tables")
    if not cache.invalidate_tables(*tables):
        cache.drop_pending_bumps()
        raise _unreachable(f"could not bump tables {', '.join(tables)}", state, cache)
    click.echo(f"invalidated tables {', '.join(tables)}")
