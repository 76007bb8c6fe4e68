"""``without_child(parent_key, child_key)``: the rows of a parent that have no child row, as
each database plans it best.

PostgreSQL: ``NOT EXISTS`` (correlated), planned as an anti-join. ``NOT IN (SELECT ...)``
would run as a hashed subplan only while the child keys fit in ``work_mem``; past that (the
``large`` dataset's agendamentos) it re-scans them for every parent row, and the monitoring
list took over 3 minutes. Elsewhere (SQLite): ``NOT IN`` over the non-null child keys, which
SQLite builds once; its plan for a correlated ``NOT EXISTS`` scans an unindexed child table
once per parent row (the naive schema has no index on the child key).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class WithoutChild(ColumnElement[bool]):
    """True for a parent row whose key has no row in the child table."""

    inherit_cache = True
    type = sa.Boolean()
    _is_implicitly_boolean = True  # a predicate: no "= 1" around it where booleans are ints
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's traversal protocol, read per class
        ("parent_key", InternalTraversal.dp_clauseelement),
        ("child_key", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, parent_key: Any, child_key: Any) -> None:
        self.parent_key = _column(parent_key)
        self.child_key = _column(child_key)

    @property
    def _from_objects(self) -> list[Any]:
        # The parent's table is this predicate's FROM (the child is inside its subquery).
        return list(self.parent_key._from_objects)


def _column(key: Any) -> Any:
    """The Core column of an ORM attribute (``Entrega.id``), or ``key`` itself."""
    return key.__clause_element__() if hasattr(key, "__clause_element__") else key


def without_child(parent_key: Any, child_key: Any) -> WithoutChild:
    """``parent_key`` (e.g. ``Entrega.id``) has no ``child_key`` (e.g. ``Agendamento.entrega_id``)."""
    return WithoutChild(parent_key, child_key)


@compiles(WithoutChild)
def _not_in(element: WithoutChild, compiler: Any, **kw: Any) -> str:
    keys = sa.select(element.child_key).where(element.child_key.is_not(None))
    return str(compiler.process(sa.not_(element.parent_key.in_(keys)), **kw))


@compiles(WithoutChild, "postgresql")
def _not_exists(element: WithoutChild, compiler: Any, **kw: Any) -> str:
    child: sa.Select[Any] = sa.select(sa.literal_column("1")).where(
        element.child_key == element.parent_key
    )
    return str(compiler.process(~sa.exists(child), **kw))
