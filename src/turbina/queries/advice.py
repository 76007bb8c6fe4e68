"""Code to paste for a statement repeated once per row, read from its fingerprint.

Shapes Turbina knows, with the mapped classes found in the app's SQLAlchemy registries:

- a count keyed by one column (``SELECT count(*) FROM posts WHERE posts.user_id = ?``, or the
  count of a subquery, as ``WriteOnlyMapped`` relationships emit it) -> one grouped count
  with ``IN`` for every key, or a correlated scalar subquery on the parent query (also the
  body of a ``column_property``);
- rows keyed by a foreign key that a plain relationship of the parent covers -> the
  ``selectinload`` of that relationship;
- rows keyed by one column otherwise (a primary key, a write-only or dynamic relationship)
  -> one ``IN`` query for every key.

Anything else gets the general instruction. The statement is parsed (sqlglot) only when a
finding is made, once per fingerprint (a bounded cache).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("turbina.queries")
GENERIC_FIX = "run it once for all keys (WHERE key IN (...)) or eager-load, instead of once per row"
_CACHE_SIZE = 500
_cache: OrderedDict[tuple[str, tuple[int, ...]], str] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class _Shape:
    counting: bool
    table: str  # the table of the key column
    column: str
    tables: tuple[str, ...]  # every table of the keyed select


def repeated_statement_fix(fingerprint: str, registries: Iterable[Any] = ()) -> str:
    """The fix for ``fingerprint`` run once per row: code when the shape is known."""
    regs = list(registries)
    key = (fingerprint, tuple(sorted(id(r) for r in regs)))
    with _lock:
        known = _cache.get(key)
        if known is not None:
            _cache.move_to_end(key)
            return known
    try:
        shape = _read_shape(fingerprint)
        fix = _fix(shape, _Models(regs)) if shape is not None else GENERIC_FIX
    except Exception as exc:  # a shape sqlglot cannot read: the general advice still holds
        log.debug("turbina: no code advice for %r (%s)", fingerprint[:200], exc)
        fix = GENERIC_FIX
    with _lock:
        _cache[key] = fix
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return fix


# --- reading the statement -----------------------------------------------------------------


def _read_shape(fingerprint: str) -> _Shape | None:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(fingerprint)
    if not isinstance(tree, exp.Select):
        return None
    counting = bool(tree.expressions) and all(
        isinstance(e.unalias(), exp.Count) for e in tree.expressions
    )
    core = tree
    source = tree.args.get("from") or tree.args.get("from_")
    if counting and source is not None and not tree.args.get("joins"):
        inner = source.this
        if isinstance(inner, exp.Subquery) and isinstance(inner.this, exp.Select):
            core = inner.this
    if tree.args.get("group") or core.args.get("group") or core.args.get("limit"):
        return None  # a per-key "first row" or grouped query: batching changes its meaning
    placeholders = [p for p in tree.find_all(exp.Placeholder)]
    if len(placeholders) != 1:
        return None
    tables = {t.alias_or_name.lower(): t.name.lower() for t in core.find_all(exp.Table)}
    if not tables:
        return None
    where = core.args.get("where")
    if where is None:
        return None
    key: tuple[str, str] | None = None
    for predicate in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if not isinstance(predicate, exp.EQ):
            return None
        left, right = predicate.this, predicate.expression
        if isinstance(left, exp.Placeholder) and isinstance(right, exp.Column):
            left, right = right, left
        if isinstance(left, exp.Column) and isinstance(right, exp.Placeholder):
            qualifier = left.table.lower()
            if not qualifier and len(tables) == 1:
                qualifier = next(iter(tables))
            if qualifier not in tables:
                return None
            key = (tables[qualifier], left.name.lower())
        elif not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
            return None  # a filter besides the key: the general advice is safer
    if key is None:
        return None
    return _Shape(counting, key[0], key[1], tuple(sorted(set(tables.values()))))


# --- naming it in the app's models ------------------------------------------------------------


class _Models:
    """Tables of the registries by lower-case name: the mapper (or ``None``) and the Table."""

    def __init__(self, registries: list[Any]) -> None:
        self.tables: dict[str, tuple[Any, Any]] = {}
        for registry in registries:
            for table in registry.metadata.tables.values():
                self.tables.setdefault(table.name.lower(), (None, table))
            for mapper in registry.mappers:
                table = mapper.local_table
                name = getattr(table, "name", None)
                if name is None or mapper.inherits is not None:
                    continue
                self.tables[name.lower()] = (mapper, table)

    def column(self, table: str, column: str) -> Any:
        entry = self.tables.get(table)
        if entry is None:
            return None
        return next((c for c in entry[1].columns if c.name.lower() == column), None)

    def name(self, table: str, column: str) -> str:
        """``Post.user_id`` for a mapped column, ``followers.c.followed_id`` for a Table's."""
        mapper, _ = self.tables.get(table, (None, None))
        col = self.column(table, column)
        if mapper is not None and col is not None:
            try:
                prop = mapper.get_property_by_column(col)
            except Exception:  # a column the mapper leaves out
                return f"{mapper.class_.__name__}.__table__.c.{col.name}"
            return f"{mapper.class_.__name__}.{prop.key}"
        return f"{table}.c.{col.name if col is not None else column}"

    def entity(self, table: str) -> str | None:
        mapper, _ = self.tables.get(table, (None, None))
        return mapper.class_.__name__ if mapper is not None else None

    def referenced(self, table: str, column: str) -> tuple[Any, Any] | None:
        """(mapper, target column) the key column references through a foreign key."""
        col = self.column(table, column)
        if col is None:
            return None
        for fk in col.foreign_keys:
            target = fk.column
            mapper, _ = self.tables.get(target.table.name.lower(), (None, None))
            if mapper is not None:
                return mapper, target
        return None


def _fix(shape: _Shape, models: _Models) -> str:
    key = models.name(shape.table, shape.column)
    parent = models.referenced(shape.table, shape.column)
    if shape.counting:
        text = (
            f"counts = dict(session.execute(select({key}, func.count())"
            f".where({key}.in_(keys)).group_by({key})).all())"
        )
        if parent is None:
            return text + "  # keys: every row's key, one query for all"
        mapper, target = parent
        parent_name = mapper.class_.__name__
        parent_attr = f"{parent_name}.{mapper.get_property_by_column(target).key}"
        source = models.entity(shape.table) or shape.table
        return (
            f"{text}  # keys: the {parent_attr} of every row; or count in the {parent_name} "
            f"query: select({parent_name}, select(func.count()).where({key} == {parent_attr})"
            f".correlate_except({source}).scalar_subquery())"
        )
    if parent is not None:
        mapper, target = parent
        relationship = _plain_relationship(mapper, models.column(shape.table, shape.column))
        if relationship is not None and relationship.mapper.local_table.name.lower() in (
            shape.tables
        ):
            attribute = f"{mapper.class_.__name__}.{relationship.key}"
            return (
                f".options(selectinload({attribute})) on the query that loads the "
                f"{mapper.class_.__name__} rows"
            )
    entity = models.entity(shape.table)
    if entity is None or len(shape.tables) != 1:
        return f"run it once for all keys: WHERE {shape.table}.{shape.column} IN (...)"
    attribute = key.rsplit(".", 1)[-1]
    column = models.column(shape.table, shape.column)
    if column is not None and column.primary_key and len(column.table.primary_key) == 1:
        return (
            f"by_key = {{row.{attribute}: row for row in session.scalars(select({entity})"
            f".where({key}.in_(keys)))}}  # keys: every {key} needed; one query for all"
        )
    return (
        f"rows = session.scalars(select({entity}).where({key}.in_(keys))).all()"
        f"  # keys: every {key} needed; one query for all, then group the rows by {attribute}"
    )


def _plain_relationship(mapper: Any, key_column: Any) -> Any:
    """The plain (lazy="select") relationship of ``mapper`` whose foreign key is
    ``key_column`` — what ``selectinload`` can batch — or ``None``."""
    if key_column is None:
        return None
    for relationship in mapper.relationships:
        if relationship.lazy not in ("select", True):
            continue  # write_only / dynamic relationships cannot be eager-loaded
        if any(remote is key_column for _local, remote in relationship.synchronize_pairs):
            return relationship
    return None
