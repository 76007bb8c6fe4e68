"""The fretes tables in the target database: refuse to overwrite data, reset only our own
tables, create them, and after the load fix sequences and refresh planner statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint, CreateTable

from fretes.models import ALL_TABLES, Base
from turbina import TurbinaError

# The models' tables, in model order (ALL_TABLES is typed as plain FromClauses).
FRETES_TABLES: tuple[sa.Table, ...] = tuple(t for t in ALL_TABLES if isinstance(t, sa.Table))
TABLE_NAMES = tuple(t.name for t in FRETES_TABLES)


class DataExistsError(TurbinaError):
    """The target database already holds fretes rows and ``reset`` was not asked for."""


def _present(connection: sa.Connection) -> list[str]:
    existing = set(sa.inspect(connection).get_table_names())
    return [name for name in TABLE_NAMES if name in existing]


def tables_with_rows(connection: sa.Connection) -> list[str]:
    """Names of the fretes tables that exist and hold at least one row."""
    found = []
    for name in _present(connection):
        table = Base.metadata.tables[name]
        if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            found.append(name)
    return found


@dataclass(frozen=True)
class Preparation:
    """What ``prepare`` did: ``fresh`` when it created every table in this transaction;
    ``deferred`` foreign keys it left out of the new tables, to add after the load."""

    fresh: bool
    deferred: list[sa.ForeignKeyConstraint] = field(default_factory=list)


def prepare(connection: sa.Connection, reset: bool) -> Preparation:
    """Make the fretes tables exist and be empty.

    Without ``reset`` a table holding rows raises ``DataExistsError``. With ``reset`` only
    the fretes tables are dropped (no CASCADE: a foreign object depending on them stops the
    reset instead of being dropped with them); every other table is left alone.
    """
    present = _present(connection)
    if not reset:
        filled = tables_with_rows(connection)
        if filled:
            raise DataExistsError(
                f"the database already holds fretes data (tables with rows: {', '.join(filled)})",
                "pass --reset (reset=True) to drop and recreate the fretes tables, "
                "or point --database-url at an empty database",
            )
    elif present:
        try:
            Base.metadata.drop_all(connection, tables=list(FRETES_TABLES), checkfirst=True)
        except sa.exc.DBAPIError as exc:
            raise TurbinaError(
                f"could not drop the fretes tables for --reset: {first_line(exc)}",
                "drop the objects that depend on the fretes tables (foreign keys, views) first",
            ) from exc
        present = []
    if reset and "alembic_version" in sa.inspect(connection).get_table_names():
        # The recreated tables are the baseline again, without the later revisions' indexes:
        # `fretes db upgrade` stamps them at 0001 and applies the rest, instead of believing
        # the old version.
        connection.exec_driver_sql("DROP TABLE alembic_version")
    # PostgreSQL checks a foreign key per loaded row (a trigger and a locking lookup of the
    # parent); adding the keys after the load validates each with one join instead, as
    # pg_restore does. SQLite does not enforce them during the load anyway.
    defer = connection.dialect.name == "postgresql"
    deferred: list[sa.ForeignKeyConstraint] = []
    for table in FRETES_TABLES:
        if table.name in present:
            continue
        if defer:
            connection.execute(CreateTable(table, include_foreign_key_constraints=[]))
            for index in table.indexes:
                index.create(connection)
            deferred.extend(table.foreign_key_constraints)
        else:
            table.create(connection)
    return Preparation(fresh=not present, deferred=deferred)


def finish(connection: sa.Connection, preparation: Preparation) -> None:
    """After the load: add the deferred foreign keys and move the id sequences."""
    for constraint in preparation.deferred:
        # isolate_from_table=False: the default would mark the shared model constraint as
        # "not inline", breaking every later create_all of the models in this process.
        connection.execute(AddConstraint(constraint, isolate_from_table=False))
    reset_sequences(connection)


def reset_sequences(connection: sa.Connection) -> None:
    """Move each PostgreSQL id sequence past the loaded ids, so the app's inserts work."""
    if connection.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY takes max(rowid) + 1 by itself
    for name in TABLE_NAMES:
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
        )


def analyze(connection: sa.Connection) -> None:
    """Refresh planner statistics of the fretes tables (run after the load is committed)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {', '.join(TABLE_NAMES)}")
    else:
        for name in TABLE_NAMES:
            connection.exec_driver_sql(f"ANALYZE {name}")


def first_line(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's statement dump."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip()
    return text.splitlines()[0] if text else inner.__class__.__name__
