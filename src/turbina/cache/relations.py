"""What the database changes or reads on its own, per engine: foreign-key actions and views.

A ``DELETE`` on a parent changes the children whose foreign keys say ``ON DELETE CASCADE``
(or ``SET NULL`` / ``SET DEFAULT``), an ``UPDATE`` those with ``ON UPDATE`` actions, and
``TRUNCATE ... CASCADE`` every referencing table; a view reads its base tables. ``Relations``
maps both, from the SQLAlchemy metadata it is given and from the database catalog (one
tagged query per kind on PostgreSQL and SQLite, SQLAlchemy's inspector elsewhere), so that:

- ``written(effect)`` is every table a statement changes, cascades and writes through a
  view included (the set the commit bumps);
- ``read(names)`` adds the base tables of the views a computation read (the stamps it
  depends on).

The catalog is read when the engine is first tracked and again after DDL (``mark_stale``),
at the next safe point (never from inside a cursor call or a commit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from turbina.cache.stamps import table_name
from turbina.cache.statements import Effect

__all__ = ["Relations"]

log = logging.getLogger("turbina.cache")

_ACTIONS = frozenset({"CASCADE", "SET NULL", "SET DEFAULT"})
_PG_ACTIONS = {"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_MAX_RELATIONS = 100_000
_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mssql": "tsql"}

_PG_FKS = """/* turbina */ SELECT p.relname, c.relname, k.confdeltype, k.confupdtype
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
WHERE k.contype = 'f'"""
_PG_VIEWS = """/* turbina */ SELECT DISTINCT v.relname, b.relname
FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
JOIN pg_class b ON b.oid = d.refobjid
WHERE v.relkind = 'v' AND d.classid = 'pg_rewrite'::regclass
AND d.refclassid = 'pg_class'::regclass AND b.oid <> v.oid
AND v.relnamespace::regnamespace::text = ANY(current_schemas(true))"""
_PG_NAMES = """/* turbina */ SELECT relname FROM pg_class
WHERE relkind IN ('r', 'p', 'v', 'm', 'f') AND relnamespace::regnamespace::text = ANY(current_schemas(true))"""
_SQLITE_NAMES = (
    "/* turbina */ SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view')"
)
_SQLITE_FKS = """/* turbina */ SELECT f."table", m.name, f.on_delete, f.on_update
FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'"""


class Relations:
    """Foreign-key actions and view dependencies of one database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (parent, child, on_delete action?, on_update action?) from each source
        self._metadata_edges: set[tuple[str, str, bool, bool]] = set()
        self._catalog_edges: set[tuple[str, str, bool, bool]] = set()
        self._catalog_views: dict[str, frozenset[str]] = {}
        self._catalog_names: frozenset[str] = frozenset()
        self._metadata_names: set[str] = set()
        self.loaded = False  # the catalog has been read at least once
        self.stale = True  # DDL ran (or never read): read the catalog at the next safe point
        self._rebuild()

    # --- sources ------------------------------------------------------------------------
    def add_metadata(self, metadata: sa.MetaData) -> None:
        """Learn the foreign keys (and table names) a SQLAlchemy ``MetaData`` declares."""
        edges = set()
        names = set()
        for table in metadata.tables.values():
            names.add(table_name(table.name))
            for fk in table.foreign_keys:
                parent = table_name(fk.column.table.name)
                edges.add(
                    (
                        parent,
                        table_name(table.name),
                        (fk.ondelete or "").upper() in _ACTIONS,
                        (fk.onupdate or "").upper() in _ACTIONS,
                    )
                )
        with self._lock:
            self._metadata_edges |= edges
            self._metadata_names |= names
            self._rebuild()

    def mark_stale(self) -> None:
        """DDL ran: read the catalog again at the next safe point."""
        self.stale = True

    def ensure_loaded(self, engine: sa.Engine) -> None:
        """Read the catalog if it changed (or was never read); errors leave the old map."""
        if self.stale:
            self.load(engine)

    def load(self, engine: sa.Engine) -> bool:
        """Read foreign keys, views and relation names from the database. False on error."""
        self.stale = False
        try:
            with engine.connect() as conn:
                names, edges, views = _read_catalog(conn)
        except Exception as exc:
            self.stale = True
            log.warning(
                "turbina.cache: could not read the catalog of %s (views and foreign-key "
                "actions come from the metadata only until it can): %s: %s",
                engine.url.render_as_string(hide_password=True),
                exc.__class__.__name__,
                exc,
            )
            return False
        with self._lock:
            self._catalog_names = frozenset(list(names)[:_MAX_RELATIONS])
            self._catalog_edges = set(list(edges)[:_MAX_RELATIONS])
            self._catalog_views = _close_views(views)
            self.loaded = True
            self._rebuild()
        return True

    # --- answers ------------------------------------------------------------------------
    @property
    def views(self) -> dict[str, frozenset[str]]:
        """View name -> the base tables it reads (through nested views too)."""
        return self._views

    def known(self) -> frozenset[str]:
        """Every table and view name known (empty when nothing was learned yet)."""
        return self._names

    def written(self, effect: Effect) -> set[str]:
        """The tables ``effect`` changes, with foreign-key actions and view base tables."""
        tables = set(effect.tables)
        views = self._views
        for name in effect.tables:
            base = views.get(name)
            if base:
                tables |= base
        if effect.truncate_cascade:
            tables |= _reach(self._any, tables)
        else:
            first: set[str] = set()
            if effect.deletes:
                first |= _reach_one(self._on_delete, tables)
            if effect.updates:
                first |= _reach_one(self._on_update, tables)
            if first:
                tables |= first | _reach(self._actions, first)
        return tables

    def read(self, names: Iterable[str]) -> set[str]:
        """``names`` plus the base tables of the views among them."""
        out = set(names)
        views = self._views
        if views:
            for name in list(out):
                base = views.get(name)
                if base:
                    out |= base
        return out

    def _rebuild(self) -> None:
        edges = self._metadata_edges | self._catalog_edges
        self._on_delete = _adjacency((p, c) for p, c, d, _ in edges if d)
        self._on_update = _adjacency((p, c) for p, c, _, u in edges if u)
        self._actions = _adjacency((p, c) for p, c, d, u in edges if d or u)
        self._any = _adjacency((p, c) for p, c, _, _ in edges)
        self._views = dict(self._catalog_views)
        self._names = frozenset(self._metadata_names) | self._catalog_names


def _adjacency(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for parent, child in pairs:
        out.setdefault(parent, set()).add(child)
    return out


def _reach_one(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    out: set[str] = set()
    for name in start:
        out |= graph.get(name, set())
    return out


def _reach(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    """Every node reachable from ``start`` (not including ``start`` unless on a cycle)."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _close_views(direct: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """View -> base tables, resolving views over views (cycles cannot exist, but are safe)."""
    out: dict[str, frozenset[str]] = {}
    for view in direct:
        seen: set[str] = set()
        todo = list(direct[view])
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(direct.get(name, ()))
        out[view] = frozenset(seen)
    return out


def _view_tables(sql: str, dialect: str, own_name: str) -> set[str]:
    try:
        tree = sqlglot.parse_one(sql, read=_DIALECTS.get(dialect) or None)
    except Exception:
        return set()
    if tree is None:
        return set()
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = {table_name(t.name) for t in tree.find_all(exp.Table) if t.name}
    return {n for n in names if n and n not in ctes and n != own_name}


def _read_catalog(
    conn: sa.Connection,
) -> tuple[set[str], set[tuple[str, str, bool, bool]], dict[str, set[str]]]:
    dialect = conn.dialect.name
    names: set[str] = set()
    edges: set[tuple[str, str, bool, bool]] = set()
    views: dict[str, set[str]] = {}
    if dialect == "postgresql":
        names = {table_name(r[0]) for r in conn.exec_driver_sql(_PG_NAMES)}
        for parent, child, on_delete, on_update in conn.exec_driver_sql(_PG_FKS):
            edges.add(
                (
                    table_name(parent),
                    table_name(child),
                    on_delete in _PG_ACTIONS,
                    on_update in _PG_ACTIONS,
                )
            )
        for view, base in conn.exec_driver_sql(_PG_VIEWS):
            views.setdefault(table_name(view), set()).add(table_name(base))
    elif dialect == "sqlite":
        for name, kind, sql in conn.exec_driver_sql(_SQLITE_NAMES):
            normalized = table_name(name)
            names.add(normalized)
            if kind == "view" and sql:
                views[normalized] = _view_tables(sql, dialect, normalized)
        for parent, child, on_delete, on_update in conn.exec_driver_sql(_SQLITE_FKS):
            edges.add(
                (
                    table_name(parent),
                    table_name(child),
                    str(on_delete).upper() in _ACTIONS,
                    str(on_update).upper() in _ACTIONS,
                )
            )
    else:
        inspector: Any = sa.inspect(conn)
        tables = inspector.get_table_names()
        names = {table_name(t) for t in tables}
        for view in inspector.get_view_names():
            normalized = table_name(view)
            names.add(normalized)
            definition = inspector.get_view_definition(view) or ""
            views[normalized] = _view_tables(definition, dialect, normalized)
        for (_, child), fks in inspector.get_multi_foreign_keys().items():
            for fk in fks:
                options = fk.get("options") or {}
                edges.add(
                    (
                        table_name(fk["referred_table"]),
                        table_name(child),
                        str(options.get("ondelete", "")).upper() in _ACTIONS,
                        str(options.get("onupdate", "")).upper() in _ACTIONS,
                    )
                )
    return names, edges, views
