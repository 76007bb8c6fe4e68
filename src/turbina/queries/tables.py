"""Which tables a statement fingerprint reads and which it writes (sqlglot, memoized).

The request monitor counts per endpoint the tables its requests read and write; the report
derives each table's write rate from the window's statements. Both ask here, so a shape is
parsed once per process whatever asks first.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["MAX_SHAPES", "statement_tables", "written_table"]

MAX_SHAPES = 4096  # fingerprints whose tables are remembered (lru_cache)
# First words of the statements that name tables; anything else (BEGIN, SAVEPOINT, PRAGMA,
# SET, SHOW) touches none and is not handed to sqlglot.
_TABLE_WORDS = frozenset(
    ("select", "with", "insert", "update", "delete", "replace", "merge", "upsert", "(")
)
# Tried in turn: sqlglot's generic dialect, then the ones whose operators it lacks (``@>``,
# ``~``, ``MATCH``, ``INDEXED BY``).
_DIALECTS = (None, "postgres", "sqlite", "mysql")
_NO_TABLES: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


@lru_cache(maxsize=MAX_SHAPES)
def statement_tables(fingerprint: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(tables read, tables written)`` by a statement fingerprint, or ``None`` when sqlglot
    cannot parse it in any of ``_DIALECTS``. Reads are the SELECT sources (FROM, JOIN,
    subqueries, an INSERT's SELECT, an UPDATE's FROM), CTE names left out; writes are an
    INSERT/UPDATE/DELETE/MERGE target. Names are unqualified (``public.t`` is ``t``), as the
    report's write rates are. Memoized: an app has a few hundred shapes, and the flush thread
    meets them at every fold."""
    head = fingerprint.lstrip()[:10].split(" ", 1)[0].lower()
    if head[:1] == "(":
        head = "("
    if head not in _TABLE_WORDS:
        return _NO_TABLES
    import sqlglot  # on first use: importing the monitor stays cheap (sqlglot is ~100 ms)
    from sqlglot import exp

    tree = None
    for dialect in _DIALECTS:  # the engine of a fingerprint is not known here
        try:
            tree = sqlglot.parse_one(fingerprint, read=dialect)
            break
        except Exception:  # sqlglot raises several error types; any of them means "no"
            continue
    if tree is None:
        return None
    target: Any = None
    if isinstance(tree, exp.Insert | exp.Update | exp.Delete | exp.Merge):
        target = tree.this
        if isinstance(target, exp.Schema):
            target = target.this
        if not isinstance(target, exp.Table):
            target = None
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    read: list[str] = []
    for table in tree.find_all(exp.Table):
        name = table.name
        if table is target or not name or (name in ctes and not table.db) or name in read:
            continue
        read.append(name)
    written = (target.name,) if target is not None and target.name else ()
    return tuple(sorted(read)), written


def written_table(fingerprint: str) -> str | None:
    """The table an INSERT/UPDATE/DELETE/MERGE fingerprint writes, or ``None`` (a read, or a
    shape sqlglot cannot parse)."""
    found = statement_tables(fingerprint)
    if found is None or not found[1]:
        return None
    return found[1][0]
