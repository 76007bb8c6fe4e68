"""Tables read during a cached computation, seen at the cursor while a recording is active.

A context variable holds the set of tables of the computation running in this context; one
``before_cursor_execute`` listener on the ``Engine`` class (every engine, installed once)
adds the tables each statement names and does nothing when no recording is active. Tables
are extracted with sqlglot once per distinct statement (bounded LRU); if a statement cannot
be parsed, a conservative regex over FROM/JOIN/INTO/UPDATE names is used instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import sqlglot
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlglot import exp

from turbina.cache.stamps import table_name

__all__ = ["install_read_recorder", "recording", "statement_tables"]

_reading: ContextVar[set[str] | None] = ContextVar("turbina_cache_reading", default=None)
_NAMES = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE)\s+((?:\"[^\"]+\"|`[^`]+`|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.I,
)
_DIALECTS = {
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
}
_installed = False
_install_lock = threading.Lock()


@lru_cache(maxsize=4096)
def statement_tables(statement: str, dialect: str = "") -> frozenset[str]:
    """Normalized names of the tables ``statement`` reads or writes (CTE names excluded)."""
    try:
        tree = sqlglot.parse_one(statement, read=_DIALECTS.get(dialect) or None)
    except Exception:
        tree = None
    if tree is None:
        return frozenset(table_name(m) for m in _NAMES.findall(statement))
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = {table_name(t.name) for t in tree.find_all(exp.Table) if t.name}
    return frozenset(n for n in names if n and n not in ctes)


def _before_cursor_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    tables = _reading.get()
    if tables is not None:
        tables.update(statement_tables(statement, conn.dialect.name))


def install_read_recorder() -> None:
    """Listen on every engine (once per process); free when no recording is active."""
    global _installed
    with _install_lock:
        if not _installed:
            event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
            _installed = True


def active() -> bool:
    """True inside a recording (a cached computation without declared dependencies)."""
    return _reading.get() is not None


@contextmanager
def recording() -> Iterator[set[str]]:
    """Collect the tables read inside the block; they are added to an enclosing recording."""
    outer = _reading.get()
    tables: set[str] = set()
    token = _reading.set(tables)
    try:
        yield tables
    finally:
        _reading.reset(token)
        if outer is not None:
            outer.update(tables)


def note_tables(tables: set[str] | frozenset[str]) -> None:
    """Add declared dependencies of a nested cached call to the enclosing recording."""
    outer = _reading.get()
    if outer is not None:
        outer.update(tables)
