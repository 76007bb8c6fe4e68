"""``has_child`` / ``without_child``: whether a parent row has rows in a child table, written
the way each database plans it well — in a WHERE and inside an aggregate's CASE alike.

PostgreSQL: a correlated ``EXISTS`` / ``NOT EXISTS``. In a WHERE it is planned as a semi- or
anti-join; inside ``count(CASE WHEN ...)`` (the monitoring list's badge counters) it is one
index probe per row. ``IN (SELECT ...)`` there is a hashed subplan only while the child keys
fit in ``work_mem``; past that (the ``large`` dataset's comentarios and agendamentos) it
re-scans them for every parent row: the optimized list took minutes.

Elsewhere (SQLite): ``IN`` / ``NOT IN`` over the non-null child keys, which SQLite builds once
per statement; its plan for a correlated ``EXISTS`` scans an unindexed child table once per
parent row (the naive schema has no index on the child key).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class ChildRows(ColumnElement[bool]):
    """True for a parent row whose key has (``present``) or lacks a row in the child table."""

    inherit_cache = True
    type = sa.Boolean()
    _is_implicitly_boolean = True  # a predicate: no "= 1" around it where booleans are ints
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's traversal protocol, read per class
        ("parent_key", InternalTraversal.dp_clauseelement),
        ("child_key", InternalTraversal.dp_clauseelement),
        ("present", InternalTraversal.dp_boolean),
    ]

    def __init__(self, parent_key: Any, child_key: Any, present: bool) -> None:
        self.parent_key = _column(parent_key)
        self.child_key = _column(child_key)
        self.present = present

    @property
    def _from_objects(self) -> list[Any]:
        # The parent's table is this predicate's FROM (the child is inside its subquery).
        return list(self.parent_key._from_objects)


def _column(key: Any) -> Any:
    """The Core column of an ORM attribute (``Entrega.id``), or ``key`` itself."""
    return key.__clause_element__() if hasattr(key, "__clause_element__") else key


def has_child(parent_key: Any, child_key: Any) -> ChildRows:
    """``parent_key`` (e.g. ``Entrega.id``) has a ``child_key`` (``Comentario.entrega_id``)."""
    return ChildRows(parent_key, child_key, True)


def without_child(parent_key: Any, child_key: Any) -> ChildRows:
    """``parent_key`` has no ``child_key`` row."""
    return ChildRows(parent_key, child_key, False)


@compiles(ChildRows)
def _key_list(element: ChildRows, compiler: Any, **kw: Any) -> str:
    keys = sa.select(element.child_key).where(element.child_key.is_not(None))
    test = element.parent_key.in_(keys)
    return str(compiler.process(test if element.present else sa.not_(test), **kw))


@compiles(ChildRows, "postgresql")
def _exists(element: ChildRows, compiler: Any, **kw: Any) -> str:
    child: sa.Select[Any] = sa.select(sa.literal_column("1")).where(
        element.child_key == element.parent_key
    )
    test = sa.exists(child)
    return str(compiler.process(test if element.present else ~test, **kw))
