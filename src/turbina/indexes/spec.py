"""``IndexSpec``: one index (real or hypothetical) the advisor reasons about."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


def sqlglot_dialect(dialect_name: str) -> str:
    """sqlglot's name for a SQLAlchemy dialect name."""
    return {"postgresql": "postgres", "sqlite": "sqlite"}.get(dialect_name, dialect_name)


@dataclass(frozen=True)
class IndexSpec:
    """One (possibly hypothetical) index: columns in order, INCLUDE columns, partial predicate."""

    table: str
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    where: str | None = None
    unique: bool = False

    @property
    def name(self) -> str:
        """A deterministic name of at most 63 characters (PostgreSQL's identifier limit)."""
        base = f"idx_{self.table}_{'_'.join(self.columns)}"
        if self.include or self.where or self.unique:
            digest = hashlib.sha1(
                repr((self.include, self.where, self.unique)).encode()
            ).hexdigest()[:6]
            base = f"{base}_{'p' if self.where else 'i'}{digest}"
        if len(base) > 63:
            digest = hashlib.sha1(base.encode()).hexdigest()[:8]
            base = f"{base[:54]}_{digest}"
        return base

    def describe(self) -> str:
        """``table (a, b) INCLUDE (c) WHERE p`` — the Dexter-style short form."""
        text = f"{self.table} ({', '.join(self.columns)})"
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.where:
            text += f" WHERE {self.where}"
        return text

    def sort_key(self) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
        """A total order for stable output (``where`` may be None)."""
        return (self.table, self.columns, self.include, self.where or "")

    def covers(self, other: IndexSpec) -> bool:
        """True when this index serves every lookup ``other`` serves (same predicate, prefix)."""
        if self.table != other.table or self.where != other.where:
            return False
        if self.columns[: len(other.columns)] != other.columns:
            return False
        return set(other.include) <= set(self.columns) | set(self.include)

    def appended(self, column: str) -> IndexSpec:
        include = tuple(c for c in self.include if c != column)
        return IndexSpec(self.table, (*self.columns, column), include, self.where)

    def with_where(self, where: str | None) -> IndexSpec:
        return IndexSpec(self.table, self.columns, self.include, where)

    def with_include(self, include: Iterable[str]) -> IndexSpec:
        extra = tuple(sorted(set(include) - set(self.columns)))
        return IndexSpec(self.table, self.columns, extra, self.where)
