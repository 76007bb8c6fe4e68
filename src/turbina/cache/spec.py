"""What the cache knows about one decorated function: its context, TTL and dependencies.

Dependencies are declared (``depends_on``: models, ``Table`` objects or table names) or
recorded: the tables a computation actually read, learned per function and only ever
growing, so the stamps read before the next computation cover everything it may read.
Declared dependencies may grow too, with what nested cached calls and cached views' users
add. Every entry also depends on its context's stamp and on the store's generation.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from turbina.cache.scopes import Scope, scope_token, unknown_rows_token, watch_token
from turbina.cache.stamps import GENERATION_TOKEN, context_token, table_name, table_token
from turbina.config import CONTEXT_NAME_PATTERN
from turbina.errors import TurbinaError

__all__ = [
    "CacheSpec",
    "Uncacheable",
    "check_context",
    "check_ttl",
    "dependency_tables",
    "unknown_tables_error",
]

_CONTEXT_NAME = re.compile(CONTEXT_NAME_PATTERN)
_MAX_LEARNED_TABLES = 1000
_MAX_PARTITION_MEMO = 4096
_MEMO_TYPES = frozenset({str, int, bool, type(None)})


class Uncacheable:
    """Returned by a creator to hand back ``value`` without storing it (``reason``: the
    ``not_stored_*`` counter to count it under)."""

    __slots__ = ("reason", "value")

    def __init__(self, value: Any, reason: str = "not_stored_response") -> None:
        self.value = value
        self.reason = reason


def dependency_tables(depends_on: Iterable[Any]) -> frozenset[str]:
    """Normalized table names of models, ``Table`` objects or table names (scoped
    dependencies, ``Scope``, are not tables: see ``CacheSpec.scopes``)."""
    names: set[str] = set()
    for item in depends_on:
        if isinstance(item, Scope):
            continue
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


def unknown_tables_error(
    function: str, unknown: Iterable[str], known: Iterable[str]
) -> TurbinaError:
    """The error for ``depends_on`` names that no tracked database or metadata knows."""
    known_list = sorted(known)
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, known_list, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return TurbinaError(
        f"depends_on of {function} names unknown table(s) {', '.join(hints)}",
        "list models, Table objects or the names of existing tables or views",
    )


@dataclass
class CacheSpec:
    """What the cache knows about one decorated function."""

    context: str
    ttl_s: int
    name: str
    declared: frozenset[str] | None
    learned: set[str] = field(default_factory=set)
    lock: bool = True
    scopes: tuple[Scope, ...] = ()
    row_tables: frozenset[str] = frozenset()  # row-set scopes, declared or learned
    _snapshot: tuple[tuple[str, ...], frozenset[str]] | None = None
    # The partition arguments' values of one call (set with the key maker: ``spec_for``).
    pick: Callable[[tuple[Any, ...], dict[str, Any]], tuple[Any, ...]] | None = None
    # (the snapshot it was built for, partition values -> tokens)
    _partition_memo: tuple[Any, dict[Any, tuple[str, ...]]] | None = None

    def __post_init__(self) -> None:
        self.partitions = tuple(s for s in self.scopes if not s.is_rows)
        self.row_tables = self.row_tables | {s.table for s in self.scopes if s.is_rows}

    def scoped_tables(self) -> frozenset[str]:
        """Tables depended on through scopes only (not also as whole tables)."""
        whole = (self.declared or frozenset()) | self.learned
        return frozenset({s.table for s in self.scopes} | self.row_tables) - whole

    def partition_args(self) -> tuple[str, ...]:
        """The argument names the partitions read (a table-wide watch reads none)."""
        return tuple(dict.fromkeys(scope.arg for scope in self.partitions if scope.arg))

    def tokens_of_values(self, values: tuple[Any, ...]) -> tuple[str, ...]:
        """``tokens_for`` from the partition arguments' values (in ``partition_args`` order),
        memoized per distinct values while the dependencies stay the same."""
        snapshot = self._snapshot or self.snapshot()
        memo = self._partition_memo
        if memo is None or memo[0] is not snapshot:
            memo = self._partition_memo = (snapshot, {})
        memo_key: Any = None
        found = None
        if all(type(v) in _MEMO_TYPES for v in values):
            # Typed keys, so the memo never answers for a value it did not compute (the
            # tokens themselves canonicalise: scopes._canonical). Other types are not memoized.
            memo_key = tuple((type(v), v) for v in values)
            found = memo[1].get(memo_key)
        if found is None:
            found = self.tokens_for(dict(zip(self.partition_args(), values, strict=True)))
            if memo_key is not None:
                if len(memo[1]) >= _MAX_PARTITION_MEMO:
                    memo[1].clear()
                memo[1][memo_key] = found
        return found

    def tokens_for(self, arguments: Mapping[str, Any]) -> tuple[str, ...]:
        """The tokens of one call of a partitioned function: the partition values' stamps
        come from its arguments."""
        whole = (self.declared or frozenset()) | self.learned
        extra: set[str] = set()
        for scope in self.partitions:
            if scope.table in whole:
                continue
            value = None if not scope.arg else arguments.get(scope.arg)
            if value is not None:
                extra.add(scope_token(scope.table, scope.column, value, scope.watch))
            elif scope.watch is None:  # no partition chosen (every row): the table's stamp
                extra.add(table_token(scope.table))
            else:  # every partition, under the same watch
                extra.add(watch_token(scope.table, scope.watch))
        return (*self.tokens(), *sorted(extra))

    def guard_tokens(self) -> tuple[str, ...]:
        """Table stamps read before computing and checked (not stored) when the entry is
        written: the row sets' stamps are only read after computing."""
        whole = (self.declared or frozenset()) | self.learned
        return tuple(sorted(table_token(t) for t in self.row_tables - whole))

    def learn_rows(self, tables: Iterable[str]) -> None:
        """Row-set scopes seen during a computation (a nested call named them)."""
        self.row_tables = self.row_tables | set(tables)
        self._snapshot = None

    def tables(self) -> frozenset[str]:
        """Every table the entries of this function depend on, as known now."""
        return self.snapshot()[1]

    def tokens(self) -> tuple[str, ...]:
        """Stamp tokens: the store's generation, the context, every table depended on."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[tuple[str, ...], frozenset[str]]:
        """``(tokens, tables)`` as one consistent pair (another thread may be learning)."""
        found = self._snapshot
        if found is None:
            tables = frozenset((self.declared or frozenset()) | self.learned)
            scoped = self.scoped_tables()
            tokens = (
                GENERATION_TOKEN,
                context_token(self.context),
                *sorted(table_token(t) for t in tables),
                *sorted(unknown_rows_token(t) for t in scoped),
            )
            found = self._snapshot = (tokens, tables | scoped)
        return found

    def learn(self, tables: Iterable[str]) -> None:
        """Add tables seen during a computation to the dependencies."""
        if len(self.learned) < _MAX_LEARNED_TABLES:
            # A new set, never mutated in place: other threads may be iterating the old one.
            self.learned = self.learned | set(tables)
            self._snapshot = None


def check_context(name: str) -> None:
    """Refuse a context name that cannot be part of keys and stamp tokens."""
    if not isinstance(name, str) or not _CONTEXT_NAME.match(name):
        raise TurbinaError(
            f"invalid cache context name {name!r}",
            "use 1-100 characters from letters, digits, '_', '.', '-'",
        )


def check_known_context(name: str, contexts: Mapping[str, int], where: str) -> None:
    """Refuse a context that was never declared (a typo would silently get its own TTL)."""
    if name in contexts:
        return
    close = difflib.get_close_matches(name, list(contexts), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    declared = ", ".join(sorted(contexts)) or "none"
    raise TurbinaError(
        f"unknown cache context {name!r}{hint}; declared: {declared}",
        f"declare it with its TTL in {where}, or pass ttl= to the decorator",
    )


def check_ttl(ttl: Any) -> None:
    """Refuse a TTL that is not a positive number of whole seconds."""
    if ttl is None:
        return
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise TurbinaError(
            f"invalid cache ttl {ttl!r}",
            "pass a positive number of whole seconds, or omit ttl to use the context's",
        )
