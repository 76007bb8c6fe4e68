"""``flask turbina cache stats|invalidate|invalidate-tables`` and the PostgreSQL trigger
bridge: ``install-triggers|uninstall-triggers|triggers``.

``stats`` reads the request monitor's store over ``--window`` (every worker, every host;
with the monitor off, the cache backend's all-time counters). Output: one line per context,
fixed columns — hits, misses and each miss by cause (first sight, invalidated, expired,
evicted, read errors), values not stored, bypassed calls — then one line per context that
did not store some values, with the reasons, then the backend's health; ``--json`` prints
the ``stats()`` mapping with the window's counters (and the ``window``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from turbina.cache.backends.base import NOT_STORED
from turbina.cache.trigger_listener import written_tables
from turbina.cache.triggers import (
    DEFAULT_CHANNEL,
    DEFAULT_SCHEMA,
    TriggerBridge,
    check_identifier,
    metadata_tables,
)
from turbina.errors import TurbinaError
from turbina.flask.cli import contract
from turbina.flask.cli.contract import TurbinaGroup, hide_password, require_state
from turbina.flask.cli.output import table
from turbina.flask.cli.requests import empty_store_line, store_reading
from turbina.flask.queries import _engines_of
from turbina.flask.state import TurbinaState, find_state
from turbina.monitor import api
from turbina.store.model import WINDOW_HELP

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
@click.option(
    "--window", default="5m", show_default=True, help=f"What the store shows: {WINDOW_HELP}."
)
@click.option("--json", "as_json", is_flag=True, help="Print the stats mapping as JSON.")
def stats_command(window: str, as_json: bool) -> None:
    """Per-context hits, misses by cause, values not stored, errors and bytes over --window,
    from the store (every worker, every host); then the cache backend's health."""
    state, cache = _state_and_cache("stats")
    reading = store_reading(state, window, "cache stats") if state.monitor is not None else None
    stats = cache.stats()  # health; and the counters when there is no store to read
    if reading is not None:
        rows = api.cache(reading)["contexts"]
        stats["contexts"] = {row.pop("context"): row for row in rows}
        stats["window"] = api.window(reading)
    if as_json:
        click.echo(json.dumps(stats, indent=2, sort_keys=True))
        return
    contexts = sorted(stats["contexts"].items())
    if not contexts and state.monitor is not None:
        click.echo(empty_store_line("cache lookups", window, state))
    else:
        _print_stats_table(contexts)
    if state.monitor is None:
        click.echo("counters: all time, from the cache backend (TURBINA_MONITOR is off)")
    _print_health(stats)


def _print_stats_table(contexts: list[tuple[str, dict[str, Any]]]) -> None:
    headers = ("context", "hit_rate", "seen_hit_rate", *(column for column, _ in COLUMNS))
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


def _print_health(stats: dict[str, Any]) -> None:
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


# --- the PostgreSQL trigger bridge: writes from outside the app -------------------------


Target = tuple[str, TriggerBridge, list[str], "TurbinaCache | None"]


@contextmanager
def _bridges(
    command: str, database_url: str | None, channel: str | None, schema: str | None
) -> Iterator[list[Target]]:
    """(label, bridge, default tables, the app's cache) per PostgreSQL database: the one
    ``--database-url`` names (its tables: the search path's), else each of the app's
    Flask-SQLAlchemy databases (its tables: the app's models)."""
    if database_url is not None:
        with contract.open_engine(database_url) as engine:
            _need_postgres(command, engine.dialect.name)
            bridge = _bridge(engine, channel or DEFAULT_CHANNEL, schema or DEFAULT_SCHEMA)
            yield [(engine.url.render_as_string(), bridge, bridge.catalog_tables(), None)]
        return
    app = contract.current_app_or_none()
    if app is None:
        raise TurbinaError(
            f"`cache {command}` needs a database and none was given",
            f"run `flask --app yourapp turbina cache {command}` or pass --database-url "
            "postgresql://...",
        )
    state = find_state(app)
    settings = state.settings if state is not None else None
    channel = channel or (settings.cache_channel if settings else DEFAULT_CHANNEL)
    schema = schema or (settings.cache_trigger_schema if settings else DEFAULT_SCHEMA)
    engines = _engines_of(app)
    if not engines:
        raise TurbinaError(
            f"the app {app.import_name!r} has no Flask-SQLAlchemy database",
            "initialise Flask-SQLAlchemy on it, or pass --database-url postgresql://...",
        )
    for engine in engines.values():
        _need_postgres(command, engine.dialect.name)
    ext = app.extensions.get("sqlalchemy")
    metadatas = getattr(ext, "metadatas", {}) or {}
    cache = state.cache if state is not None and state.cache and state.cache.enabled else None
    targets: list[Target] = []
    for name, engine in engines.items():
        metadata = metadatas.get(None if name == "default" else name)
        tables = metadata_tables([metadata]) if metadata is not None else []
        targets.append((name, _bridge(engine, channel, schema), tables, cache))
    yield targets


def _need_postgres(command: str, dialect: str) -> None:
    if dialect != "postgresql":
        raise TurbinaError(
            f"{command} needs PostgreSQL (LISTEN/NOTIFY), and the database is {dialect}",
            "point --database-url (or the app's database) at a postgresql:// database",
        )


def _bridge(engine: Any, channel: str, schema: str) -> TriggerBridge:
    try:
        check_identifier(channel, "--channel / TURBINA_CACHE_CHANNEL")
        check_identifier(schema, "--schema / TURBINA_CACHE_TRIGGER_SCHEMA")
    except ValueError as exc:
        raise TurbinaError(str(exc), "use a name such as turbina_writes") from None
    return TriggerBridge(engine, channel=channel, schema=schema)


_DATABASE_URL = click.option(
    "--database-url", default=None, help="A PostgreSQL URL (default: the app's databases)."
)
_CHANNEL = click.option("--channel", default=None, help="NOTIFY channel (TURBINA_CACHE_CHANNEL).")
_SCHEMA = click.option(
    "--schema", default=None, help="Schema of the trigger function (TURBINA_CACHE_TRIGGER_SCHEMA)."
)


@cache_group.command("install-triggers")
@click.argument("tables", nargs=-1)
@_DATABASE_URL
@_CHANNEL
@_SCHEMA
def install_triggers_command(
    tables: tuple[str, ...], database_url: str | None, channel: str | None, schema: str | None
) -> None:
    """Install statement-level triggers that NOTIFY at commit on TABLES (default: every
    table of the app's models, or of the search path with --database-url). Idempotent."""
    with _bridges("install-triggers", database_url, channel, schema) as targets:
        for label, bridge, default, cache in targets:
            _install(label, bridge, list(tables) or default, cache)
    click.echo(
        "then set TURBINA_CACHE_LISTEN=true in the app: its processes turn the notifications into bumps"
    )


def _install(label: str, bridge: TriggerBridge, tables: list[str], cache: Any) -> None:
    changes = bridge.install(tables)
    for name in changes.done:
        click.echo(f"installed  {name}")
    for name in changes.updated:
        click.echo(f"updated    {name} (now channel {bridge.channel})")
    for name in changes.unchanged:
        click.echo(f"present    {name}")
    click.echo(
        f"{label}: {len(changes.done)} installed, {len(changes.updated)} updated, "
        f"{len(changes.unchanged)} already present; channel {bridge.channel}, "
        f"function {bridge.function}() {changes.function}"
    )
    touched = [*changes.done, *changes.updated]
    if cache is not None and touched:
        # Entries cached before the triggers existed may predate writes from outside:
        # bumped once, through the path a commit takes.
        cache.commit_seen(written_tables(touched))
        if cache.drop_pending_bumps():
            click.echo(
                "warning: the cache store is unreachable: entries cached before now were "
                "not invalidated (they expire with their TTL)"
            )


@cache_group.command("uninstall-triggers")
@click.argument("tables", nargs=-1)
@_DATABASE_URL
@_CHANNEL
@_SCHEMA
def uninstall_triggers_command(
    tables: tuple[str, ...], database_url: str | None, channel: str | None, schema: str | None
) -> None:
    """Drop the triggers from TABLES (default: every table that has one); with none left,
    drop the trigger function and its schema (if empty)."""
    with _bridges("uninstall-triggers", database_url, channel, schema) as targets:
        for label, bridge, _default, _cache in targets:
            changes = bridge.uninstall(tables)
            for name in changes.done:
                click.echo(f"removed    {name}")
            for name in changes.unchanged:
                click.echo(f"absent     {name}")
            click.echo(
                f"{label}: {len(changes.done)} removed; function {bridge.function}() "
                f"{changes.function}"
            )


@cache_group.command("triggers")
@_DATABASE_URL
@_CHANNEL
@_SCHEMA
def triggers_command(database_url: str | None, channel: str | None, schema: str | None) -> None:
    """Which tables notify which channel: the app's tables (or the search path's) and every
    table that has a trigger."""
    with _bridges("triggers", database_url, channel, schema) as targets:
        for label, bridge, default, _cache in targets:
            _status(label, bridge, default)


def _status(label: str, bridge: TriggerBridge, tables: list[str]) -> None:
    found = bridge.status(tables)
    rows = [
        (
            t.name,
            "-" if t.channel is None else t.channel,
            _state_of(t.channel, bridge.channel) if t.exists else "no such table",
        )
        for t in found
    ]
    click.echo(table(("table", "channel", "state"), rows))
    ready = sum(1 for t in found if t.channel == bridge.channel)
    existing = sum(1 for t in found if t.exists)
    function = "present" if bridge.function_installed() else "absent"
    click.echo(
        f"{label}: {ready} of {existing} tables notify channel {bridge.channel}; "
        f"function {bridge.function}() {function}"
    )


def _state_of(found: str | None, wanted: str) -> str:
    if found is None:
        return "missing"
    return "ok" if found == wanted else "other channel"
