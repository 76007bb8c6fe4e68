"""The PostgreSQL trigger bridge's DDL: writes from outside the app notify at commit (opt-in).

Write tracking (``tracking``) sees only the statements of the engines the cache was given.
Writes by other programs — psql, another service, a cron job — are invisible to it. On
PostgreSQL the database can tell: ``TriggerBridge`` installs one trigger function,
``<schema>.notify_write()``, and on each table an ``AFTER INSERT OR UPDATE OR DELETE OR
TRUNCATE ... FOR EACH STATEMENT`` trigger calling ``pg_notify(<channel>, <table name>)``.
A notification is queued by the writing transaction and delivered only when it commits
(never on rollback); identical notifications of one transaction are folded into one by
PostgreSQL, so a batch job updating a table a million times sends one. Foreign-key actions
run as statements on the child tables, so their triggers fire too. Install and uninstall are
idempotent and run in one transaction under an advisory lock with a ``lock_timeout``
(``CREATE TRIGGER`` takes a lock that waits for the table's writers and blocks new ones
meanwhile). ``trigger_listener`` turns the notifications into stamp bumps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from turbina.errors import TurbinaError

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_SCHEMA",
    "SQL_TAG",
    "TRIGGER_NAME",
    "Changes",
    "TableTrigger",
    "TriggerBridge",
    "check_identifier",
    "metadata_tables",
]

log = logging.getLogger("turbina.cache")

DEFAULT_CHANNEL = "turbina_writes"
DEFAULT_SCHEMA = "turbina"
TRIGGER_NAME = "turbina_notify_write"
FUNCTION_NAME = "notify_write"
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
SQL_TAG = "/* turbina */ "
_LOCK_KEY = "turbina.cache.triggers"  # the advisory lock that serialises install/uninstall
_FUNCTION_BODY = "BEGIN PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME); RETURN NULL; END"
_LOCK_NOT_AVAILABLE = "55P03"
_INSUFFICIENT_PRIVILEGE = "42501"


def check_identifier(value: str, what: str) -> str:
    """``value`` if it is a plain lower-case SQL identifier (it is used unquoted in LISTEN
    and in the trigger's argument); ``ValueError`` otherwise."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(
            f"{what} {value!r} is not a lower-case identifier of letters, digits and '_' "
            "(at most 63, not starting with a digit)"
        )
    return value


def metadata_tables(metadatas: Iterable[sa.MetaData]) -> list[str]:
    """The tables of ``metadatas`` as names ``to_regclass`` resolves (quoted where needed)."""
    preparer = postgresql.dialect().identifier_preparer
    names: dict[str, None] = {}
    for metadata in metadatas:
        for table in metadata.sorted_tables:
            names[preparer.format_table(table)] = None
    return list(names)


# --- the DDL ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableTrigger:
    """One table and its bridge trigger: ``channel`` is ``None`` when it has none."""

    schema: str
    table: str
    channel: str | None
    exists: bool = True  # False: a name asked about that is no table of the database

    @property
    def name(self) -> str:
        """``schema.table`` as the catalog spells it (the name as asked, if no such table)."""
        return f"{self.schema}.{self.table}" if self.schema else self.table


@dataclass
class Changes:
    """What ``install`` / ``uninstall`` did, table by table (``schema.table``)."""

    done: list[str] = field(default_factory=list)  # installed, or removed
    updated: list[str] = field(default_factory=list)  # re-created for another channel
    unchanged: list[str] = field(default_factory=list)  # already so
    function: str = "unchanged"  # created / removed / unchanged / kept (still in use)


class TriggerBridge:
    """Install, remove and list the bridge's triggers on one PostgreSQL engine."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        channel: str = DEFAULT_CHANNEL,
        schema: str = DEFAULT_SCHEMA,
        lock_timeout_ms: int = 5000,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise TurbinaError(
                f"the trigger bridge needs PostgreSQL, not {engine.dialect.name}",
                "point it at a postgresql:// database (other databases have no LISTEN/NOTIFY)",
            )
        self.engine = engine
        self.channel = check_identifier(channel, "channel")
        self.schema = check_identifier(schema, "schema")
        self.lock_timeout_ms = int(lock_timeout_ms)
        self.function = f"{self.schema}.{FUNCTION_NAME}"

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sa.Connection]:
        """One transaction, serialised with other installs, waiting at most the lock timeout;
        the database's refusals as one-line errors that say what to do."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"{SQL_TAG}SET LOCAL lock_timeout = {self.lock_timeout_ms}"))
                conn.execute(
                    sa.text(f"{SQL_TAG}SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": _LOCK_KEY},
                )
                yield conn
        except sa.exc.DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            first = (str(exc.orig or exc).strip().splitlines() or ["?"])[0]
            if code == _LOCK_NOT_AVAILABLE:
                raise TurbinaError(
                    f"{what}: a table stayed locked longer than {self.lock_timeout_ms} ms "
                    f"({first}); nothing was changed",
                    "retry when long transactions on those tables have ended",
                ) from None
            if code == _INSUFFICIENT_PRIVILEGE:
                raise TurbinaError(
                    f"{what}: {first}; nothing was changed",
                    "run it as the tables' owner (or a role with TRIGGER and CREATE rights)",
                ) from None
            raise

    def _resolve(
        self, conn: sa.Connection, tables: Iterable[str], missing: list[str] | None = None
    ) -> list[tuple[str, str]]:
        """(schema, table) of each name, as the catalog spells them. Names that are not
        tables of this database go to ``missing`` when given, else are an error naming them."""
        found: dict[tuple[str, str], None] = {}
        strict = missing is None
        missing = [] if missing is None else missing
        for name in tables:
            row = conn.execute(
                sa.text(
                    f"{SQL_TAG}SELECT n.nspname, c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.oid = to_regclass(:name) AND c.relkind IN ('r', 'p')"
                ),
                {"name": name},
            ).first()
            if row is None:
                missing.append(name)
            else:
                found[(row[0], row[1])] = None
        if missing and strict:
            raise TurbinaError(
                f"no table {', '.join(missing)} in the database; nothing was changed",
                "create the tables first (migrations, db.create_all()) or name existing tables",
            )
        return list(found)

    def _installed(self, conn: sa.Connection) -> dict[tuple[str, str], str]:
        """(schema, table) -> channel of every table that has the bridge's trigger."""
        rows = conn.execute(
            sa.text(
                f"{SQL_TAG}SELECT n.nspname, c.relname, "
                "split_part(encode(t.tgargs, 'escape'), '\\000', 1) "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE t.tgname = :name AND NOT t.tgisinternal ORDER BY 1, 2"
            ),
            {"name": TRIGGER_NAME},
        )
        return {(schema, table): channel for schema, table, channel in rows}

    def _function_source(self, conn: sa.Connection) -> str | None:
        return conn.execute(
            sa.text(f"{SQL_TAG}SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure(:signature)"),
            {"signature": f"{self.function}()"},
        ).scalar()

    def status(self, tables: Iterable[str] = ()) -> list[TableTrigger]:
        """Every table of ``tables`` (names) and every table that has the trigger, with the
        channel it notifies (``None``: no trigger); names that are no table come last."""
        missing: list[str] = []
        with self.engine.connect() as conn:
            installed = self._installed(conn)
            wanted = self._resolve(conn, tables, missing)
        keys = dict.fromkeys([*wanted, *installed])
        found = [TableTrigger(s, t, installed.get((s, t))) for s, t in sorted(keys)]
        return found + [TableTrigger("", name, None, exists=False) for name in missing]

    def catalog_tables(self) -> list[str]:
        """Every table of the schemas on the search path (partitions left out: a statement
        on a partitioned table fires the parent's trigger), except the bridge's schema."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    f"{SQL_TAG}SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
                    "AND n.nspname = ANY (current_schemas(false)) AND n.nspname <> :schema "
                    "ORDER BY 1"
                ),
                {"schema": self.schema},
            )
            return [row[0] for row in rows]

    def function_installed(self) -> bool:
        """True if the trigger function exists."""
        with self.engine.connect() as conn:
            return self._function_source(conn) is not None

    def install(self, tables: Iterable[str]) -> Changes:
        """Create the function and the trigger on each of ``tables`` that lacks it (one
        transaction); a trigger notifying another channel is re-created."""
        names = list(tables)
        if not names:
            raise TurbinaError(
                "no table to install the triggers on",
                "name the tables, or give the app's metadata (Flask-SQLAlchemy models)",
            )
        changes = Changes()
        function = f"{_quote(self.schema)}.{FUNCTION_NAME}"
        with self._transaction("install-triggers") as conn:
            targets = self._resolve(conn, names)
            conn.execute(sa.text(f"{SQL_TAG}CREATE SCHEMA IF NOT EXISTS {_quote(self.schema)}"))
            source = self._function_source(conn)
            if source is None or source.strip() != _FUNCTION_BODY:
                conn.execute(
                    sa.text(
                        f"{SQL_TAG}CREATE OR REPLACE FUNCTION {function}() RETURNS trigger "
                        f"LANGUAGE plpgsql AS $turbina$ {_FUNCTION_BODY} $turbina$"
                    )
                )
                changes.function = "created"
            installed = self._installed(conn)
            for schema, table in targets:
                qualified = f"{_quote(schema)}.{_quote(table)}"
                current = installed.get((schema, table))
                if current == self.channel:
                    changes.unchanged.append(f"{schema}.{table}")
                    continue
                if current is not None:
                    conn.execute(sa.text(f"{SQL_TAG}DROP TRIGGER {TRIGGER_NAME} ON {qualified}"))
                conn.execute(
                    sa.text(
                        f"{SQL_TAG}CREATE TRIGGER {TRIGGER_NAME} "
                        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                        f"ON {qualified} FOR EACH STATEMENT "
                        f"EXECUTE FUNCTION {function}('{self.channel}')"
                    )
                )
                (changes.updated if current is not None else changes.done).append(
                    f"{schema}.{table}"
                )
        return changes

    def uninstall(self, tables: Iterable[str] = ()) -> Changes:
        """Drop the trigger from ``tables`` (default: every table that has it); with none
        left, drop the function and the schema too (the schema only if it is then empty)."""
        changes = Changes()
        with self._transaction("uninstall-triggers") as conn:
            installed = self._installed(conn)
            names = list(tables)
            targets = self._resolve(conn, names) if names else list(installed)
            for schema, table in targets:
                if (schema, table) not in installed:
                    changes.unchanged.append(f"{schema}.{table}")
                    continue
                conn.execute(
                    sa.text(
                        f"{SQL_TAG}DROP TRIGGER {TRIGGER_NAME} ON {_quote(schema)}.{_quote(table)}"
                    )
                )
                changes.done.append(f"{schema}.{table}")
            if set(installed) - set(targets):
                changes.function = "kept"  # other tables still call it
            elif self._function_source(conn) is not None:
                conn.execute(
                    sa.text(f"{SQL_TAG}DROP FUNCTION {_quote(self.schema)}.{FUNCTION_NAME}()")
                )
                changes.function = "removed"
                try:
                    with conn.begin_nested():  # RESTRICT: refused if anything else lives there
                        conn.execute(sa.text(f"{SQL_TAG}DROP SCHEMA {_quote(self.schema)}"))
                except sa.exc.DBAPIError:
                    log.info("turbina.cache: schema %s kept: it holds other objects", self.schema)
        return changes


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
