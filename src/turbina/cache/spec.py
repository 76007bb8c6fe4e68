"""What the cache knows about one decorated function: its context, TTL and dependencies.

Dependencies are either declared (``depends_on``: models, ``Table`` objects or names) or
recorded: the tables a computation actually read, learned per function and only ever
growing, so the stamps read before the next computation cover everything it may read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from turbina.cache.stamps import context_token, table_name, table_token
from turbina.errors import TurbinaError

__all__ = ["CacheSpec", "Uncacheable", "check_context", "dependency_tables"]

_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
_MAX_LEARNED_TABLES = 1000


class Uncacheable:
    """Returned by a creator to hand back ``value`` without storing it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def dependency_tables(depends_on: Iterable[Any]) -> frozenset[str]:
    """Normalized table names of models, ``Table`` objects or table names."""
    names: set[str] = set()
    for item in depends_on:
        if isinstance(item, str):
            names.add(table_name(item))
        elif isinstance(item, sa.Table):
            names.add(table_name(item.name))
        else:
            try:
                mapper = sa.inspect(item)
                tables = mapper.tables
            except Exception:
                raise TypeError(
                    f"depends_on item {item!r} is not a model, a Table or a table name; "
                    "list mapped classes, Table objects or table names"
                ) from None
            names.update(table_name(t.name) for t in tables)
    return frozenset(names)


@dataclass
class CacheSpec:
    """What the cache knows about one decorated function."""

    context: str
    ttl_s: int
    name: str
    declared: frozenset[str] | None
    learned: set[str] = field(default_factory=set)
    lock: bool = True
    _tokens: list[str] | None = None

    def tokens(self) -> list[str]:
        """Stamp tokens of the context and of the tables the function depends on."""
        tokens = self._tokens
        if tokens is None:
            tables = self.declared if self.declared is not None else self.learned
            tokens = [context_token(self.context), *sorted(table_token(t) for t in tables)]
            self._tokens = tokens
        return tokens

    def learn(self, tables: set[str]) -> None:
        """Add tables seen during a computation to the recorded dependencies."""
        if len(self.learned) < _MAX_LEARNED_TABLES:
            # A new set, never mutated in place: other threads may be iterating the old one.
            self.learned = self.learned | tables
            self._tokens = None


def check_context(name: str) -> None:
    """Refuse a context name that cannot be part of keys and stamp tokens."""
    if not isinstance(name, str) or not _CONTEXT_NAME.match(name):
        raise TurbinaError(
            f"invalid cache context name {name!r}",
            "use 1-100 characters from letters, digits, '_', '.', '-'",
        )
