"""Scoped stamps: invalidation finer than a table, where the writes say which rows they touch.

A table-level stamp makes every entry that read the table stale on any write to it. A
*scope* splits it by the value of one column:

- a **partition**, ``scoped(Entrega.vendedor, arg="vendedor")``: the entry depends on the
  stamp of ``entregas#vendedor=<the call's vendedor argument>``;
- a **row set**, ``scoped(ComentarioNF.entrega_id)``, the values found while computing —
  the computation calls ``depends_on_rows(ComentarioNF.entrega_id, ids)`` with the parent
  keys the page shows; a comment on another entrega leaves the page fresh. More values than
  ``MAX_ROWS``: that one entry depends on the whole table instead.

A partition may also say which columns decide whether (and where) a row belongs to a result:
``scoped(Entrega.vendedor, arg="vendedor", watch=[Entrega.status, Entrega.criado_em])`` —
the filter and ordering columns. An ORM update of a row of the partition that changes none
of them cannot move a row in or out of the result, so it does not bump the partition (the
entry names the rows it *shows* with ``depends_on_rows(Entrega.id, ids)``, which that update
does bump). Inserts, deletes and updates of a watched (or the partition) column bump it, as
does any update when a watched column has an ``onupdate`` default. A partition argument
that is ``None`` (every partition) depends on the table's watch stamp ``t:<table>~<watch>``,
bumped by the same writes of any partition.

Every scoped entry also depends on the table's **unknown-rows stamp** (``t:<table>!``). The
write side (``tracking``) bumps, at commit:

- for an ORM flush (the session is tracked), the scope stamps of the old and the new value of
  the column of every row it inserts, updates or deletes, plus the table stamp (table-level
  readers see every write); never the unknown-rows stamp — unless a value could not be known
  (an expired attribute), which bumps it;
- for any other write to the table (Core, ``text()``, raw SQL, a flush of rows whose value is
  unknown): the table stamp *and* the unknown-rows stamp, so every scoped entry is stale.

A row set is only known after computing, so its stamps are read after the data; the write is
still safe because it is compare-and-set against the table stamp read *before* computing (a
guard: checked, not stored in the entry): a write that commits meanwhile refuses the store.
Scopes are declared process-wide per (table, column): the flush hook looks for exactly those.
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
import threading
import uuid
import weakref
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa

from turbina.cache import reads
from turbina.cache.keys import _emit
from turbina.cache.stamps import table_name
from turbina.errors import TurbinaError

__all__ = [
    "MAX_ROWS",
    "TOKEN_MARK",
    "Scope",
    "depends_on_all_rows",
    "depends_on_rows",
    "flush_knows",
    "scope_token",
    "scope_variants",
    "scoped",
    "scoped_columns",
    "unknown_rows_token",
    "watch_token",
]

_NUMERIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
TOKEN_MARK = "\x1f"  # in a set of written tables: a ready-made stamp token follows
_MAX_SCOPES = 1000
MAX_ROWS = 1000  # row tokens one entry may depend on (more: the table's stamp instead)
_lock = threading.Lock()
_columns: dict[str, frozenset[str]] = {}  # table -> scoped columns (declared, process-wide)
# (table, column) -> the watch sets its partitions declared (None: every column)
_variants: dict[tuple[str, str], frozenset[frozenset[str] | None]] = {}
# The session flushing in this context and the scoped tables of its objects.
_flushing: ContextVar[tuple[weakref.ref[Any], frozenset[str]] | None] = ContextVar(
    "turbina_cache_flushing", default=None
)


@dataclass(frozen=True)
class Scope:
    """One scoped dependency: ``table``'s rows split by ``column``; ``arg`` names the
    argument holding the value (a partition), ``None`` for a row set; ``watch``: the columns
    whose change moves a row of a partition in or out of a result (``None``: every column)."""

    table: str
    column: str  # "" for a table-wide watch: ``scoped(Model, watch=[...])``
    arg: str | None = None
    watch: frozenset[str] | None = None

    @property
    def is_rows(self) -> bool:
        """True for a row set (named while computing), False for a partition or a watch."""
        return self.arg is None and self.watch is None


def _column_of(target: Any) -> tuple[str, str] | None:
    """(table, column) of a mapped column attribute or a ``Column``; None otherwise."""
    if isinstance(target, sa.Column) and target.table is not None:
        return target.table.name, target.name
    prop = getattr(target, "property", None)
    columns = getattr(prop, "columns", None)
    if not columns:
        return None
    return columns[0].table.name, columns[0].name


def scoped(
    target: Any,
    column: str | None = None,
    *,
    arg: str | None = None,
    watch: Iterable[Any] | None = None,
) -> Scope:
    """A scoped dependency for ``depends_on``: ``scoped(Model.column, arg="name")``, or
    ``scoped(Model, "column")`` / ``scoped("table", "column")``; without ``arg``, a row set
    the computation names with ``depends_on_rows``. ``watch`` (a partition only): the
    columns (attributes or names) the result's filters and ordering read."""
    if column is None:
        found = _column_of(target)
        if found is None and watch is not None and arg is None:
            # Table-wide: ``scoped(Model, watch=[...])`` — every row, under the watch.
            tables = [target] if isinstance(target, sa.Table) else sa.inspect(target).tables
            found = (tables[0].name, "")
        if found is None:
            raise TurbinaError(
                f"scoped({target!r}) names no column",
                "pass a mapped column attribute (Model.column) or (Model or table, 'column')",
            )
        table, column = found
    elif isinstance(target, str):
        table = target
    elif isinstance(target, sa.Table):
        table = target.name
    else:
        tables = sa.inspect(target).tables
        table = tables[0].name
    name, col = table_name(table), str(column).lower()
    watched: frozenset[str] | None = None
    if watch is not None:
        if arg is None and col:
            raise TurbinaError(
                f"scoped({name}.{col}, watch=...) without arg=",
                "watch= narrows a partition: pass arg= naming the argument holding its value "
                "(or scoped(Model, watch=[...]) for every row of the table)",
            )
        watched = frozenset({*([col] if col else []), *(_watched_name(name, i) for i in watch)})
    scope = Scope(name, col, arg, watched)
    key = (scope.table, scope.column)
    variants = _variants.get(key)
    if variants is not None and watched in variants:
        return scope  # declared before (depends_on_rows calls this on every computation)
    with _lock:
        if len(_variants) >= _MAX_SCOPES and key not in _variants:
            # An undeclared scope would never be bumped: refuse it rather than go stale.
            raise TurbinaError(
                f"too many scoped columns (more than {_MAX_SCOPES}) at {name}.{col}",
                "scope by fewer distinct columns; depend on whole tables instead",
            )
        _columns[scope.table] = _columns.get(scope.table, frozenset()) | {scope.column}
        _variants[key] = (variants or frozenset()) | {watched}
    return scope


def _watched_name(table: str, item: Any) -> str:
    if isinstance(item, str):
        return item.lower()
    found = _column_of(item)
    if found is None or table_name(found[0]) != table:
        raise TurbinaError(
            f"watch item {item!r} is not a column of table {table!r}",
            "list column attributes (or names) of the partitioned table",
        )
    return found[1].lower()


def scoped_columns(table: str) -> frozenset[str]:
    """The columns of ``table`` some cached function is scoped by (empty: none; ``""``:
    a table-wide watch)."""
    return _columns.get(table, frozenset())


def scope_variants(table: str, column: str) -> frozenset[frozenset[str] | None]:
    """The watch sets declared for ``table.column`` (``None``: a scope watching every column)."""
    return _variants.get((table, column), frozenset({None}))


@functools.lru_cache(maxsize=_MAX_SCOPES)
def _watch_digest(watch: frozenset[str]) -> str:
    return blake2b(",".join(sorted(watch)).encode(), digest_size=4).hexdigest()


def _canonical(value: Any) -> str:
    """One text for every value the database takes as equal in ``column = value``.

    A partition's value comes from the call's argument on one side and from the ORM's row
    state on the other, and the two need not share a type: ``cliente_id = '2'`` selects the
    rows of cliente 2 on SQLite (column affinity), ``= 2.0`` and ``= Decimal('2.00')`` do
    everywhere, while the flush reports the integer 2. Different tokens there would leave the
    entry stale for good, so numbers (and numeric strings, booleans) meet in one decimal
    form, dates and times in ISO text, enums at their value. Values merged that the database
    keeps apart ('01' and '1' in a text column) only cost an extra invalidation."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float | Decimal) or (
        isinstance(value, str) and _NUMERIC.match(value)
    ):
        try:
            number = Decimal(str(value) if isinstance(value, float) else value)
        except (InvalidOperation, ValueError):
            number = None
        if number is not None and number.is_finite():
            if number == number.to_integral_value():
                return f"n{int(number)}"
            return f"n{number.normalize()}"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return "s" + value.isoformat().replace("T", " ")
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, uuid.UUID):
        return "s" + str(value)
    out: list[str] = []
    try:
        _emit(value, out)
    except Exception:
        out = [f"r{value!r}"]
    return "".join(out)


def scope_token(table: str, column: str, value: Any, watch: frozenset[str] | None = None) -> str:
    """The stamp token of one value of a scoped column (``_canonical``: 1, 1.0 and "1" share
    one), for the scopes watching ``watch`` (``None``: every column)."""
    text = _canonical(value)
    digest = blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    if watch is None:
        return f"t:{table}#{column}:{digest}"
    return f"t:{table}#{column}~{_watch_digest(watch)}:{digest}"


def watch_token(table: str, watch: frozenset[str]) -> str:
    """The stamp of every partition of ``table`` under ``watch``: bumped by each write that
    bumps some partition's watched token (a result over every partition depends on it)."""
    return f"t:{table}~{_watch_digest(watch)}"


def unknown_rows_token(table: str) -> str:
    """The stamp bumped by every write to ``table`` whose rows are not known."""
    return f"t:{table}!"


def depends_on_rows(target: Any, values: Iterable[Any], column: str | None = None) -> None:
    """Inside a cached computation: its value depends only on the rows of ``target``'s
    scoped column (``Model.column``, or a model/table and ``column``) holding ``values``."""
    running = reads.current()
    if running is None:
        return
    scope = scoped(target, column)
    if scope.table in running.whole_rows:
        return
    rows = running.rows.setdefault(scope.table, set())
    rows.update(scope_token(scope.table, scope.column, value) for value in values)
    if len(rows) > MAX_ROWS:
        # Too many rows: this entry depends on the whole table (its stamp, read before).
        running.whole_rows.add(scope.table)
        del running.rows[scope.table]


def depends_on_all_rows(target: Any) -> None:
    """Inside a cached computation: its value depends on every row of ``target``'s table (a
    model, a ``Table``, a table name or a column attribute) — for this entry only: the
    table's stamp, read before computing. For a set of rows too large to name (more than
    ``MAX_ROWS``)."""
    running = reads.current()
    if running is None:
        return
    found = _column_of(target)
    if found is not None:
        name = found[0]
    elif isinstance(target, str):
        name = target
    elif isinstance(target, sa.Table):
        name = target.name
    else:
        name = sa.inspect(target).tables[0].name
    table = table_name(name)
    running.whole_rows.add(table)
    running.rows.pop(table, None)


def flush_begins(session: Any, tables: frozenset[str]) -> None:
    """``before_flush``: statements of this session's flush write rows whose values the
    flush hook reports."""
    _flushing.set((weakref.ref(session), tables))


def flush_knows(table: str) -> bool:
    """True while this context's session is flushing rows of ``table`` it reports."""
    found = _flushing.get()
    if found is None:
        return False
    session = found[0]()
    return session is not None and bool(getattr(session, "_flushing", False)) and table in found[1]
