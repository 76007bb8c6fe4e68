"""Scoped stamps: invalidation finer than a table, where the writes say which rows they touch.

A table-level stamp makes every entry that read the table stale on any write to it. A
*scope* splits it by the value of one column:

- a **partition**, ``scoped(Entrega.vendedor, arg="vendedor")``: the entry depends on the
  stamp of ``entregas#vendedor=<the call's vendedor argument>``;
- a **row set**, ``scoped(ComentarioNF.entrega_id)``, the values found while computing —
  the computation calls ``depends_on_rows(ComentarioNF.entrega_id, ids)`` with the parent
  keys the page shows; a comment on another entrega leaves the page fresh.

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

import threading
import weakref
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import sqlalchemy as sa

from turbina.cache import reads
from turbina.cache.stamps import table_name
from turbina.errors import TurbinaError

__all__ = [
    "TOKEN_MARK",
    "Scope",
    "depends_on_rows",
    "flush_knows",
    "scope_token",
    "scoped",
    "scoped_columns",
    "unknown_rows_token",
]

TOKEN_MARK = "\x1f"  # in a set of written tables: a ready-made stamp token follows
_MAX_SCOPES = 1000
_MAX_ROWS = 1000  # row tokens one entry may depend on (more: the table's stamp instead)
_lock = threading.Lock()
_columns: dict[str, frozenset[str]] = {}  # table -> scoped columns (declared, process-wide)
# The session flushing in this context and the scoped tables of its objects.
_flushing: ContextVar[tuple[weakref.ref[Any], frozenset[str]] | None] = ContextVar(
    "turbina_cache_flushing", default=None
)


@dataclass(frozen=True)
class Scope:
    """One scoped dependency: ``table``'s rows split by ``column``; ``arg`` names the
    argument holding the value (a partition), ``None`` for a row set."""

    table: str
    column: str
    arg: str | None = None


def scoped(target: Any, column: str | None = None, *, arg: str | None = None) -> Scope:
    """A scoped dependency for ``depends_on``: ``scoped(Model.column, arg="name")``, or
    ``scoped(Model, "column")`` / ``scoped("table", "column")``; without ``arg``, a row set
    the computation names with ``depends_on_rows``."""
    if column is None:
        prop = getattr(target, "property", None)
        columns = getattr(prop, "columns", None)
        if not columns:
            raise TurbinaError(
                f"scoped({target!r}) names no column",
                "pass a mapped column attribute (Model.column) or (Model or table, 'column')",
            )
        table, column = columns[0].table.name, columns[0].name
    elif isinstance(target, str):
        table = target
    elif isinstance(target, sa.Table):
        table = target.name
    else:
        tables = sa.inspect(target).tables
        table = tables[0].name
    scope = Scope(table_name(table), str(column).lower(), arg)
    with _lock:
        known = _columns.get(scope.table, frozenset())
        if scope.column not in known and len(_columns) < _MAX_SCOPES:
            _columns[scope.table] = known | {scope.column}
    return scope


def scoped_columns(table: str) -> frozenset[str]:
    """The columns of ``table`` some cached function is scoped by (empty: none)."""
    return _columns.get(table, frozenset())


def scope_token(table: str, column: str, value: Any) -> str:
    """The stamp token of one value of a scoped column (typed: 1 and "1" differ)."""
    from turbina.cache.keys import _emit

    out: list[str] = []
    try:
        _emit(value, out)
    except Exception:
        out = [f"r{value!r}"]
    digest = blake2b("".join(out).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"t:{table}#{column}:{digest}"


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
    tokens = {scope_token(scope.table, scope.column, value) for value in values}
    if len(tokens) > _MAX_ROWS:
        running.noted.add(scope.table)  # too many rows: depend on the whole table
        return
    running.rows.setdefault(scope.table, set()).update(tokens)


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
