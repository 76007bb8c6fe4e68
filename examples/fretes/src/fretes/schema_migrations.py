"""The fretes schema's migration history (Alembic, ``fretes/migrations``), run from Python.

``upgrade(url)`` brings a database to a revision and returns the revisions it applied;
``downgrade(url, revision)`` goes back; ``current(url)`` says where a database is. A database
``fretes datagen`` (or ``create_all``) built holds the baseline tables but no
``alembic_version``: it is *stamped* at the baseline (``0001``), never re-created.

On PostgreSQL the advised indexes are built ``CONCURRENTLY`` (the revision steps out of its
transaction). A concurrent build that fails leaves an INVALID index behind, which Alembic does
not remove and ``IF NOT EXISTS`` would then silently keep: ``upgrade`` drops it and raises a
``TurbinaError`` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from fretes.app import normalize_database_url
from fretes.datagen.schema import TABLE_NAMES, first_line
from turbina import TurbinaError

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
VERSION_TABLE = "alembic_version"
# The index a revision's ``CREATE`` statement builds (the advised-indexes revisions).
INDEX_NAME = re.compile(r"INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


class MigrationError(TurbinaError):
    """A migration could not run (unknown revision, unreachable database, failed DDL)."""


def config(connection: sa.Connection | None = None) -> Config:
    """The Alembic configuration of fretes's history (on ``connection`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script() -> ScriptDirectory:
    """The revisions of the history."""
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision."""
    found = script().get_current_head()
    assert found is not None  # the history is never empty
    return found


def shown_url(url: str) -> str:
    """``url`` as it may be printed: its password hidden (a URL that does not parse as is)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


@contextmanager
def _connect(url: str) -> Iterator[sa.Connection]:
    try:
        engine = sa.create_engine(normalize_database_url(url), poolclass=sa.pool.NullPool)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise MigrationError(
            f"--database-url {url!r} is not a database URL: {exc}",
            "pass a URL like sqlite:///instance/fretes.db or postgresql://user@host/db",
        ) from None
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.OperationalError as exc:
        raise MigrationError(
            f"cannot reach {shown_url(url)}: {first_line(exc)}",
            "check --database-url / DATABASE_URL and that the server is running",
        ) from None
    finally:
        engine.dispose()


def _current(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _check_revision(revision: str, *, allow_base: bool = False) -> None:
    if allow_base and revision == "base":
        return
    try:
        found = script().get_revision(revision)
    except CommandError as exc:
        found = None
        detail = str(exc)
    else:
        detail = ""
    if found is None:
        known = ", ".join(r.revision for r in reversed(list(script().walk_revisions())))
        extra = f" ({detail})" if detail else ""
        raise MigrationError(
            f"unknown revision {revision!r}{extra}",
            f"pass one of: {known}, head" + (", base" if allow_base else ""),
        )


def _stamp_existing(connection: sa.Connection) -> bool:
    """Stamp a database that holds the baseline tables but no version at ``0001``."""
    existing = set(sa.inspect(connection).get_table_names())
    if VERSION_TABLE in existing and _current(connection) is not None:
        return False
    present = [name for name in TABLE_NAMES if name in existing]
    if not present:
        return False
    missing = [name for name in TABLE_NAMES if name not in existing]
    if missing:
        raise MigrationError(
            f"the database holds some fretes tables but not {', '.join(missing)} "
            "and has no migration version",
            "rebuild it with `fretes datagen --reset`, or point --database-url at another one",
        )
    command.stamp(config(connection), BASELINE)
    connection.commit()
    return True


def _applied(before: str | None, after: str | None) -> list[str]:
    """Revisions from just after ``before`` to ``after``, oldest first."""
    if after is None or after == before:
        return []
    revisions = script().iterate_revisions(after, before or "base")
    return [r.revision for r in reversed(list(revisions))]


def revision_indexes(dialect: str) -> dict[str, list[str]]:
    """Revision -> names of the indexes its upgrade creates on ``dialect`` (the revisions with
    a per-dialect ``CREATE`` table, as ``turbina indexes advise --format migration`` writes)."""
    found: dict[str, list[str]] = {}
    for rev in script().walk_revisions():
        statements = getattr(rev.module, "CREATE", {}).get(dialect, [])
        names = [m.group(1) for m in map(INDEX_NAME.search, statements) if m]
        if names:
            found[rev.revision] = names
    return found


def _invalid_indexes(connection: sa.Connection) -> list[str]:
    """INVALID indexes among the history's own (a concurrent build in progress elsewhere is
    INVALID too, so only the names the revisions build are considered)."""
    if connection.dialect.name != "postgresql":
        return []
    ours = sorted({n for names in revision_indexes("postgresql").values() for n in names})
    if not ours:
        return []
    rows = connection.exec_driver_sql(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE NOT i.indisvalid AND c.relname = ANY(%(names)s) ORDER BY c.relname",
        {"names": ours},
    )
    return [row[0] for row in rows]


def _drop_invalid(connection: sa.Connection) -> list[str]:
    """Drop the INVALID indexes a failed concurrent build of ours left behind."""
    connection.rollback()
    names = _invalid_indexes(connection)
    connection.rollback()
    if names:
        # A connection of its own: execution_options would switch this one to autocommit.
        with connection.engine.connect() as other:
            autocommit = other.execution_options(isolation_level="AUTOCOMMIT")
            for name in names:
                autocommit.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    return names


def upgrade(url: str, revision: str = "head") -> list[str]:
    """Bring the database at ``url`` to ``revision``; returns the revisions applied, oldest
    first (empty when it was there already). A database with the fretes tables and no version
    is stamped at ``0001`` first (not in the result: nothing ran)."""
    if revision != "head":
        _check_revision(revision)
    with _connect(url) as connection:
        _drop_invalid(connection)  # a leftover would make CREATE ... IF NOT EXISTS a no-op
        _stamp_existing(connection)
        before = _current(connection)
        connection.commit()
        try:
            command.upgrade(config(connection), revision)
            connection.commit()
        except sa.exc.DBAPIError as exc:
            dropped = _drop_invalid(connection)
            where = f" (dropped the INVALID index {', '.join(dropped)})" if dropped else ""
            raise MigrationError(
                f"upgrade of {shown_url(url)} to {revision} failed{where}: {first_line(exc)}",
                "fix the cause (see the database log), then run `fretes db upgrade` again",
            ) from exc
        except CommandError as exc:
            raise MigrationError(
                f"cannot upgrade {shown_url(url)} to {revision}: {exc}",
                "run `fretes db current` to see where the database is",
            ) from None
        return _applied(before, _current(connection))


def downgrade(url: str, revision: str) -> list[str]:
    """Take the database at ``url`` back to ``revision`` (``base`` drops every table of the
    history); returns the revisions undone, newest first."""
    _check_revision(revision, allow_base=True)
    with _connect(url) as connection:
        _stamp_existing(connection)
        before = _current(connection)
        connection.commit()
        try:
            command.downgrade(config(connection), revision)
            connection.commit()
        except CommandError as exc:
            raise MigrationError(
                f"cannot downgrade {shown_url(url)} to {revision}: {exc}",
                "pass a revision older than the current one (`fretes db current`)",
            ) from None
        except sa.exc.DBAPIError as exc:
            raise MigrationError(
                f"downgrade of {shown_url(url)} to {revision} failed: {first_line(exc)}",
                "fix the cause (see the database log), then run `fretes db downgrade` again",
            ) from exc
        after = _current(connection)
        undone = _applied(after, before)
        return list(reversed(undone))


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` when it has no version (a
    database built by ``fretes datagen`` reads ``None`` until the first ``upgrade``)."""
    with _connect(url) as connection:
        return _current(connection)
